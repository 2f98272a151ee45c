// The live feed for any page: one EventSource on /api/v1/events, re-dispatched on `document` as
// "live:<event>" CustomEvents (live:snapshot, live:node, live:node-removed, live:progress,
// live:progress-removed, live:job, live:job-state, live:scan, live:scan-removed, live:cleanup, live:arr-scan,
// live:backup, live:backup-removed), so each page's script listens only for what it shows (librarrarian.on in
// lib.js). Every (re)connection starts with a
// snapshot: a page that lists what the feed does not hold (jobs) reads it again then.
// The browser reconnects by itself after a network error (the server's retry: hint sets the delay);
// an HTTP error closes the EventSource for good, so then we open a new one, waiting longer each time.
(function () {
  "use strict";
  if (!window.EventSource) return;
  const EVENTS = [
    "snapshot", "node", "node-removed", "progress", "progress-removed", "job", "job-state", "scan", "scan-removed",
    "cleanup", "arr-scan", "backup", "backup-removed",
  ];
  const indicator = document.getElementById("live");
  let wait = 2000;

  function show(state) {
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.title = state === "open" ? "Live updates on" : "Live updates reconnecting…";
  }

  function connect() {
    const source = new EventSource("/api/v1/events");
    source.onopen = () => { wait = 2000; show("open"); };
    source.onerror = () => {
      show("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, wait);
        wait = Math.min(wait * 2, 60000);
      }
    };
    for (const name of EVENTS) {
      source.addEventListener(name, (message) => {
        document.dispatchEvent(new CustomEvent("live:" + name, { detail: JSON.parse(message.data) }));
      });
    }
  }

  show("connecting");
  connect();
})();
