// The Options page's notifications: URLs added (checked by the server, never shown again) and removed, the
// events and the window saved (PATCH /api/v1/notifications), and a test sent to every URL.
(function () {
  "use strict";
  const settings = document.getElementById("notify-settings");
  if (!settings) return;
  const { call, el, format } = window.librarrarian;
  const message = document.getElementById("notify-message");
  const rows = document.querySelector("#notify-targets tbody");
  const adding = document.getElementById("notify-url");

  const say = (text) => { message.textContent = text; };

  function row(target) {
    const remove = el("button", "remove", "Remove");
    remove.type = "button";
    const service = el("td", null, target.service + " ");
    service.append(el("code", null, target.scheme + "://…"));
    const tr = el("tr");
    tr.dataset.target = target.id;
    const added = el("td", null, format.when(target.added_at).slice(0, 16));
    const actions = el("td");
    actions.append(remove);
    tr.append(service, added, actions);
    return tr;
  }

  rows.addEventListener("click", async (e) => {
    const tr = e.target.closest("tr[data-target]");
    if (!tr || !e.target.classList.contains("remove")) return;
    try {
      await call("DELETE", "/api/v1/notifications/urls/" + tr.dataset.target);
      tr.remove();
      say("Removed.");
    } catch (error) {
      say("Not removed: " + error.message);
    }
  });

  adding.addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = adding.elements.url;
    try {
      const target = await call("POST", "/api/v1/notifications/urls", { url: input.value.trim() });
      const none = rows.querySelector("tr.none");
      if (none) none.remove();
      rows.append(row(target));
      input.value = "";
      say("Added.");
    } catch (error) {
      say("Not added: " + error.message);
    }
  });

  settings.addEventListener("submit", async (e) => {
    e.preventDefault();
    const events = [...settings.querySelectorAll("input[name=events]:checked")].map((box) => box.value);
    const window_seconds = Number(settings.elements.window_seconds.value);
    say("Saving…");
    try {
      await call("PATCH", "/api/v1/notifications", { events, window_seconds });
      say("Saved.");
    } catch (error) {
      say("Not saved: " + error.message);
    }
  });

  document.getElementById("notify-test").addEventListener("click", async () => {
    say("Sending…");
    try {
      const sent = await call("POST", "/api/v1/notifications/test");
      say("Sent to " + sent.targets + (sent.targets === 1 ? " URL." : " URLs."));
    } catch (error) {
      say("Not sent: " + error.message);
    }
  });
})();
