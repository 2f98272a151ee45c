// Sonarr, Radarr and Lidarr on the Options page, set up through /api/v1/arr. The arr service keeps the API keys
// and no reply carries one: a key typed here is sent once and the field emptied. Test connection tries what is
// saved, so a form changed since is saved first. The webhook key is shown the once it is made, with the URL
// each app is to call.
(function () {
  "use strict";
  const root = document.getElementById("arr");
  if (!root) return;
  const { call } = window.librarrarian;

  // Why a test failed, in words, by the arr service's `problem`; its `detail` says it in full.
  const PROBLEMS = {
    unauthorized: "the app refused the API key",
    wrong_url: "no such API at that URL (a wrong port or URL base?)",
    not_arr: "something answers there, but not this app",
    timeout: "the app did not answer in time",
    tls: "its certificate is not trusted (for a self-signed one, choose to accept it)",
    refused: "that address is not allowed (PRIVATE_SERVERS)",
    unreachable: "the app could not be reached",
  };

  root.addEventListener("click", (e) => {
    if (e.target.classList.contains("remove")) e.target.closest("tr").remove();
    if (!e.target.classList.contains("add-mapping")) return;
    const form = e.target.closest("form");
    form.querySelector(".mappings tbody").append(document.getElementById("arr-mapping-row").content.cloneNode(true));
    form.querySelector(".mappings tbody tr:last-child [name=server]").focus();
  });

  for (const section of root.querySelectorAll("section.arr-app")) {
    const app = section.dataset.app;
    const form = section.querySelector("form");
    const message = section.querySelector("[data-role=message]");
    const problem = section.querySelector("[data-role=problem]");
    let configured = JSON.parse(section.dataset.configured);

    const say = (text) => { message.textContent = text; };
    const fail = (text) => { problem.hidden = !text; problem.textContent = text || ""; };

    function wanted() {
      const f = form.elements;
      const body = {
        enabled: f.enabled.checked,
        url: f.url.value.trim(),
        mode: f.mode.value,
        ssl_verify: f.ssl_verify.value === "" ? null : f.ssl_verify.value === "true",
        rename_approval: f.rename_approval.checked,
        auto_rename: f.auto_rename.checked,
        hold_below_cutoff: f.hold_below_cutoff.checked,
        mappings: [...form.querySelectorAll(".mappings tbody tr")]
          .map((tr) => ({ server: tr.querySelector("[name=server]").value.trim(), local: tr.querySelector("[name=local]").value.trim() }))
          .filter((m) => m.server || m.local),  // an empty row is no mapping; a half-filled one is refused
      };
      if (f.api_key.value) body.api_key = f.api_key.value;
      return body;
    }

    function show(status) {
      configured = status.configured;
      form.elements.api_key.value = "";
      form.elements.api_key.placeholder = configured ? "stored: leave empty to keep it" : "";
      const summary = section.querySelector("[data-role=summary]");
      summary.className = "status " + (configured && status.enabled ? "done" : "skipped");
      summary.textContent = !configured ? "not configured" : status.enabled ? "enabled" : "disabled";
    }

    let saved = JSON.stringify(wanted());
    async function save() {
      const body = wanted();
      if (!body.url) throw new Error("give the app's URL");
      show(await call("PUT", "/api/v1/arr/" + app, body));
      saved = JSON.stringify(wanted());
    }

    async function step(working, work) {
      fail("");
      say(working);
      try { await work(); } catch (error) { say(""); fail(error.message); }
    }

    form.addEventListener("submit", (e) => {
      e.preventDefault();
      step("Saving…", async () => { await save(); say("Saved."); });
    });
    form.querySelector("[data-action=test]").addEventListener("click", () => step("Testing…", async () => {
      if (JSON.stringify(wanted()) !== saved || !configured) await save();
      const check = await call("POST", "/api/v1/arr/" + app + "/test");
      if (check.ok) return say("Connected to " + check.app_name + " " + check.version + ".");
      say("");
      fail("Not connected: " + (PROBLEMS[check.problem] || check.problem) + (check.detail ? " (" + check.detail + ")" : ""));
    }));
  }

  // The webhook key: made on request, shown this once beside the URL each app calls.
  const make = document.getElementById("arr-webhook-make");
  const message = document.getElementById("arr-webhook-message");
  const problem = document.getElementById("arr-webhook-problem");
  make?.addEventListener("click", async () => {
    const keySet = JSON.parse(document.getElementById("arr-webhook").dataset.keySet);
    if (keySet && !confirm("Make a new webhook key? The apps using the old one must be given the new one.")) return;
    make.disabled = true;
    problem.hidden = true;
    try {
      const { key } = await call("POST", "/api/v1/arr/webhook-key");
      document.getElementById("arr-webhook-key").textContent = key;
      for (const url of document.querySelectorAll("[data-webhook-url]")) {
        url.textContent = location.origin + "/api/v1/arr/" + url.dataset.webhookUrl + "/webhook";
      }
      document.getElementById("arr-webhook-shown").hidden = false;
      document.getElementById("arr-webhook").dataset.keySet = "true";
      document.getElementById("arr-webhook-state").textContent = "A webhook key is set. Making a new one retires it.";
      message.textContent = "Made: paste it into each app now.";
    } catch (error) {
      problem.textContent = "Not made: " + error.message;
      problem.hidden = false;
    } finally {
      make.disabled = false;
    }
  });
})();
