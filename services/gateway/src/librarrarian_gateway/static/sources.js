// Plex and Jellyfin on the Options page, set up through /api/v1/sources. The scanner keeps the tokens and the
// API key and no reply carries one; the key typed here is sent once and the field emptied. Every step is one
// request started by a button (no polling): the API's refusal is shown next to the control that caused it.
(function () {
  "use strict";
  const root = document.getElementById("sources");
  if (!root) return;

  const call = (method, path, body) => window.librarrarian.call(method, "/api/v1/sources" + path, body);

  // A section's message and problem lines; `run` wraps a step so a refusal lands in the problem line.
  function reporter(name) {
    const message = document.getElementById(name + "-message");
    const problem = document.getElementById(name + "-problem");
    const say = (text) => { message.textContent = text; };
    const fail = (text) => { problem.hidden = !text; problem.textContent = text || ""; };
    async function run(working, step) {
      fail("");
      say(working);
      try { await step(); } catch (error) { say(""); fail(error.message); }
    }
    return { say, run };
  }

  // Path mapping rows, shared by both forms: added from the template, removed from their row.
  root.addEventListener("click", (e) => {
    const form = e.target.closest("form");
    if (e.target.classList.contains("remove")) e.target.closest("tr").remove();
    if (!form || !e.target.classList.contains("add-mapping")) return;
    const row = document.getElementById("mapping-row").content.cloneNode(true);
    row.querySelector("[name=server]").setAttribute("list", form.querySelector("datalist").id);
    form.querySelector(".mappings tbody").append(row);
  });

  const mappingsOf = (form) => [...form.querySelectorAll(".mappings tbody tr")]
    .map((tr) => ({ server: tr.querySelector("[name=server]").value.trim(), local: tr.querySelector("[name=local]").value.trim() }))
    .filter((m) => m.server && m.local);
  const chosenIn = (form) => [...form.querySelectorAll("input[name=library]:checked")].map((box) => box.value);

  // The server's libraries as checkboxes (what was chosen stays ticked); their folders offered for mappings.
  function showLibraries(form, libraries, chosen) {
    const choices = form.querySelector(".libraries .choices");
    choices.replaceChildren(...libraries.map((library) => {
      const label = document.createElement("label");
      const box = document.createElement("input");
      label.className = "check";
      box.type = "checkbox";
      box.name = "library";
      box.value = library.id;
      box.checked = chosen.includes(library.id);
      label.append(box, " " + library.title + " (" + library.kind + ")");
      return label;
    }));
    if (!libraries.length) choices.textContent = "The server has no libraries.";
    form.querySelector("datalist").replaceChildren(...libraries.flatMap((library) => library.locations).map((path) => {
      const option = document.createElement("option");
      option.value = path;
      return option;
    }));
  }

  function summary(id, configured, words, detail) {
    const line = document.getElementById(id);
    const status = document.createElement("span");
    status.className = "status " + (configured ? "done" : "skipped");
    status.textContent = words;
    line.replaceChildren(status, detail ? " " + detail : "");
  }
  const count = (n) => n + (n === 1 ? " library" : " libraries");

  // --- Plex: link with a PIN, choose a server, its libraries and mappings --------------------------------
  (function () {
    const section = document.getElementById("plex");
    const form = document.getElementById("plex-form");
    const select = form.elements.server_id;
    const { say, run } = reporter("plex");
    let serverId = section.dataset.serverId;

    async function loadServers() {
      const { servers } = await call("GET", "/plex/servers");
      select.replaceChildren(...servers.map((server) => new Option(server.name + (server.owned ? "" : " (shared)"), server.id)));
      if (serverId) select.value = serverId;
      if (!servers.length) throw new Error("the Plex account has no server");
      if (serverId && select.value === serverId) await loadLibraries();
    }
    async function loadLibraries() {
      showLibraries(form, (await call("GET", "/plex/libraries")).libraries, chosenIn(form));
    }
    function saved(status) {
      serverId = status.server_id;
      summary("plex-summary", true, "linked", "server " + status.server_name + ", " + count(status.sections.length));
    }

    document.getElementById("plex-link").addEventListener("click", () => run("Asking plex.tv for a code…", async () => {
      const pin = await call("POST", "/plex/pin");
      document.getElementById("plex-code").textContent = pin.code;
      const link = document.getElementById("plex-link-url");
      link.href = link.textContent = pin.link_url;
      document.getElementById("plex-pin").hidden = false;
      say("");
    }));
    document.getElementById("plex-entered").addEventListener("click", () => run("Asking plex.tv…", async () => {
      if (!(await call("GET", "/plex/pin")).linked) {
        say("The code has not been entered yet: enter it, then press the button again.");
        return;
      }
      document.getElementById("plex-link-step").hidden = true;
      form.hidden = false;
      document.getElementById("plex-webhook").hidden = false;
      summary("plex-summary", true, "linked", "");
      say("Linked: choose a server.");
      await loadServers();
    }));
    // The API lists the libraries of the stored server only, so choosing a server stores it first.
    document.getElementById("plex-use").addEventListener("click", () => run("Choosing the server…", async () => {
      if (!select.value) throw new Error("choose a server first");
      const sections = select.value === serverId ? chosenIn(form) : [];
      saved(await call("PUT", "/plex", { server_id: select.value, sections, mappings: mappingsOf(form) }));
      await loadLibraries();
      say("Server chosen: tick its libraries and save.");
    }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      run("Saving…", async () => {
        if (!select.value) throw new Error("choose a server first");
        saved(await call("PUT", "/plex", { server_id: select.value, sections: chosenIn(form), mappings: mappingsOf(form) }));
        say("Saved.");
      });
    });
    document.getElementById("plex-unlink").addEventListener("click", () => run("Unlinking…", async () => {
      await call("DELETE", "/plex");
      location.reload();  // back to the page as it is with nothing linked
    }));

    document.getElementById("plex-test").addEventListener("click", () => run("Testing…", async () => {
      const check = await call("POST", "/plex/test");
      if (!check.ok) throw new Error(check.problem);
      say("Connected to " + check.server_name + " " + check.version + ".");
    }));

    // The webhook's URL carries its secret: the API shows it once, here, and never again.
    const made = document.getElementById("plex-webhook-make");
    const off = document.getElementById("plex-webhook-off");
    made.addEventListener("click", () => run("Making a webhook URL…", async () => {
      const hook = await call("POST", "/plex/webhook");
      document.getElementById("plex-webhook-url").value = hook.url;
      document.getElementById("plex-webhook-shown").hidden = false;
      document.getElementById("plex-webhook-state").textContent = "On: a new item in a chosen library is probed at once.";
      made.textContent = "Make a new URL";
      off.hidden = false;
      say("");
    }));
    off.addEventListener("click", () => run("Turning the webhook off…", async () => {
      await call("DELETE", "/plex/webhook");
      document.getElementById("plex-webhook-url").value = "";
      document.getElementById("plex-webhook-shown").hidden = true;
      document.getElementById("plex-webhook-state").textContent = "Off: new items wait for the next sync.";
      made.textContent = "Make a webhook URL";
      off.hidden = true;
      say("Webhook off.");
    }));

    if (!form.hidden) run("", loadServers);
  })();

  // --- Jellyfin: URL and API key, tested before a new key is kept; libraries and mappings -----------------
  (function () {
    const section = document.getElementById("jellyfin");
    const form = document.getElementById("jellyfin-form");
    const { say, run } = reporter("jellyfin");
    // What the scanner holds, to put back when a new URL or key is refused.
    let stored = {
      configured: JSON.parse(section.dataset.configured),
      url: section.dataset.url,
      libraries: JSON.parse(section.dataset.libraries),
      mappings: JSON.parse(section.dataset.mappings),
    };

    function wanted() {
      const body = { url: form.elements.url.value.trim(), libraries: chosenIn(form), mappings: mappingsOf(form) };
      if (form.elements.api_key.value) body.api_key = form.elements.api_key.value;
      return body;
    }
    function keep(body) {
      stored = { configured: stored.configured || "api_key" in body, url: body.url, libraries: body.libraries, mappings: body.mappings };
      form.elements.api_key.value = "";
      form.elements.api_key.placeholder = "stored: leave empty to keep it";
      summary("jellyfin-summary", stored.configured, stored.configured ? "configured" : "not configured",
        "at " + stored.url + ", " + count(stored.libraries.length));
    }

    // The API tests only what is stored, so the URL and key are stored, tested, and put back if refused: a
    // refused key is never kept (one stored before it cannot be restored, as no reply carries it).
    async function connect() {
      const body = wanted();
      if (!body.url) throw new Error("give Jellyfin's URL");
      await call("PUT", "/jellyfin", body);
      let check;
      try {
        check = await call("POST", "/jellyfin/test");
      } catch (error) {
        check = { ok: false, problem: error.message };
      }
      if (!check.ok) {
        const lost = "api_key" in body && stored.configured;
        await call("PUT", "/jellyfin", {
          url: stored.url || body.url,
          libraries: stored.libraries,
          mappings: stored.mappings,
          ...("api_key" in body ? { api_key: "" } : {}),
        });
        if (lost) stored.configured = false;
        throw new Error(check.problem + (lost ? " (not kept; the key stored before is gone: enter it again)" : " (nothing kept)"));
      }
      keep(body);
      showLibraries(form, (await call("GET", "/jellyfin/libraries")).libraries, body.libraries);
      return check;
    }

    document.getElementById("jellyfin-test").addEventListener("click", () => run("Testing…", async () => {
      const check = await connect();
      say("Connected to " + check.server_name + " " + check.version + ": tick its libraries and save.");
    }));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      run("Saving…", async () => {
        const body = wanted();
        if (body.api_key || !stored.configured) await connect();
        else {
          await call("PUT", "/jellyfin", body);
          keep(body);
        }
        say("Saved.");
      });
    });

    if (stored.configured) {
      run("", async () => showLibraries(form, (await call("GET", "/jellyfin/libraries")).libraries, stored.libraries));
    }
  })();

  // --- Sync now ----------------------------------------------------------------------------------------------
  (function () {
    const { say, run } = reporter("sync");
    document.getElementById("sources-sync").addEventListener("click", () => run("Asking the scanner…", async () => {
      const accepted = await call("POST", "/sync", {});
      say((accepted.already_running ? "A sync is already running: " : "Sync started: ") + accepted.sources.join(", ") + ".");
    }));
  })();
})();
