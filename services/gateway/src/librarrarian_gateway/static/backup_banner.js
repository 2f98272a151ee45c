// The dashboard's line on the last backup (the `status` key of the `backups` bucket): a failure as an alert
// that says when, why and when the last good one was made; a success as one quiet line. Drawn from the status
// the page was rendered with, then from the live feed (its snapshot's `backups`, and each `backup` event).
(function () {
  "use strict";
  const lib = window.librarrarian;
  const { format } = lib;
  const failed = document.getElementById("backup-failed");
  const line = document.getElementById("backup-line");
  if (!failed || !line) return;

  function show(status) {
    failed.hidden = line.hidden = true;
    if (!status) return;
    if (!status.ok) {
      const last = status.last_success_at ? "the last good one is from " + format.when(status.last_success_at)
        : "there is no good backup yet";
      failed.textContent = "The last backup failed (" + format.when(status.attempted_at) + "): " +
        (status.error || "no reason given") + ". " + last[0].toUpperCase() + last.slice(1) + ". See Tools → Backups.";
      failed.hidden = false;
      return;
    }
    line.textContent = "Last backup " + format.when(status.attempted_at) + ": " + (status.name || "") +
      (status.size != null ? ", " + format.size(status.size) : "") + ".";
    line.hidden = false;
  }

  show(lib.embedded("backup-data"));
  lib.on("snapshot", (s) => { if (s.backups) show(s.backups.find((b) => b.key === "status") || null); });
  lib.on("backup", (b) => { if (b.key === "status") show(b); });
  lib.on("backup-removed", (b) => { if (b.key === "status") show(null); });
})();
