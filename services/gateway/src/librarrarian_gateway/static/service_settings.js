// How often and how hard the services work, on the Options page: the scan interval, the tries per job and the
// stale files, the pause while streaming (PATCH /api/v1/settings/{scanner,scheduler,cleanup,streaming}, only
// what changed), and each node's slots
// (PUT /api/v1/nodes/{node}/slots). The API checks every value; a refusal is shown and changes nothing.
(function () {
  "use strict";
  const form = document.getElementById("services");
  if (!form) return;
  const message = document.getElementById("services-message");
  const problem = document.getElementById("services-error");
  const ROUTES = {
    scanner: ["scan_interval_seconds"],
    scheduler: ["max_attempts"],
    "queue-order": ["order", "window"],
    cleanup: ["stale_after_hours", "interval_hours", "recycle_days"],
    streaming: ["pause_while_streaming"],
  };
  // A number as the API wants it; anything else goes as typed, so the API names what is wrong.
  const number = (text) => (text.trim() !== "" && !isNaN(Number(text)) ? Number(text) : text);
  const collect = () => {
    const values = {};
    for (const fields of Object.values(ROUTES)) for (const f of fields) values[f] = number(form.elements[f].value);
    return values;
  };
  let saved = collect();

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const now = collect();
    const done = [];
    message.textContent = "Saving…";
    try {
      for (const [route, fields] of Object.entries(ROUTES)) {
        const changes = {};
        for (const f of fields) if (now[f] !== saved[f]) changes[f] = now[f];
        if (!Object.keys(changes).length) continue;
        await window.librarrarian.call("PATCH", "/api/v1/settings/" + route, changes);
        for (const f of fields) saved[f] = now[f];
        done.push(route);
      }
    } catch (error) {
      message.textContent = done.length ? "Saved " + done.join(", ") + "; the rest not saved." : "Not saved.";
      problem.textContent = error.message;
      problem.hidden = false;
      return;
    }
    problem.hidden = true;
    message.textContent = done.length ? "Saved: applied at once." : "Nothing changed.";
  });
})();

(function () {
  "use strict";
  const form = document.getElementById("slots");
  if (!form) return;
  const message = document.getElementById("slots-message");
  const problem = document.getElementById("slots-error");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const node = e.submitter && e.submitter.value;
    if (!node) return;
    const row = [...form.querySelectorAll("tr[data-node]")].find((tr) => tr.dataset.node === node);
    const slots = {};
    for (const input of row.querySelectorAll("input")) {
      const text = input.value.trim();
      slots[input.name] = text !== "" && !isNaN(Number(text)) ? Number(text) : text;
    }
    message.textContent = "Saving…";
    try {
      await window.librarrarian.call("PUT", "/api/v1/nodes/" + encodeURIComponent(node) + "/slots", { slots });
      problem.hidden = true;
      message.textContent = "Saved: " + node + " applies it at once.";
    } catch (error) {
      message.textContent = "Not saved.";
      problem.textContent = error.message;
      problem.hidden = false;
    }
  });
})();
