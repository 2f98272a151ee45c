// The Tools page's backups: the list and the last outcome, "Back up now", a download link per file, a restore
// of a listed file or an uploaded one. While a restore runs the services are away: poll until they answer,
// then reload.
(function () {
  "use strict";
  const lib = window.librarrarian;
  const { format, call } = lib;
  const body = document.querySelector("#backups tbody");
  const message = document.getElementById("backup-message");
  const statusLine = document.getElementById("backup-status");
  const now = document.getElementById("backup-now");
  const upload = document.getElementById("restore-file");
  const cell = (text) => lib.el("td", "", text);

  function showStatus(s) {
    if (!s) { statusLine.textContent = "No backup has been made yet."; return; }
    statusLine.dataset.ok = String(s.ok);
    statusLine.textContent = s.ok
      ? "Last backup " + format.time(s.attempted_at) + ": " + s.name + " (" + format.size(s.size) + ")."
      : "The last backup failed " + format.time(s.attempted_at) + ": " + s.error;
  }

  function row(b) {
    const tr = document.createElement("tr");
    tr.dataset.backup = b.name;
    const link = lib.el("a", "", "Download");
    link.href = "/api/v1/backups/" + encodeURIComponent(b.name);
    link.download = b.name;
    const restore = lib.el("button", "", "Restore");
    restore.type = "button";
    restore.addEventListener("click", async () => {
      if (!confirm("Replace everything with the backup of " + format.time(b.created_at) + "?")) return;
      restore.disabled = true;
      try {
        await call("POST", "/api/v1/backups/" + encodeURIComponent(b.name) + "/restore");
        restoring();
      } catch (error) {
        restore.disabled = false;
        message.textContent = "Not restored: " + error.message;
      }
    });
    const actions = document.createElement("td");
    actions.append(link, " ", restore);
    tr.append(cell(format.time(b.created_at)), cell(b.name), cell(format.size(b.size)), cell(b.app_version), actions);
    return tr;
  }

  async function load() {
    try {
      const list = await call("GET", "/api/v1/backups");
      showStatus(list.status);
      const rows = list.backups.map(row);
      if (!rows.length) {
        const empty = lib.el("tr", "empty");
        empty.append(cell("No backup yet."));
        empty.firstChild.colSpan = 5;
        rows.push(empty);
      }
      body.replaceChildren(...rows);
    } catch (error) {
      statusLine.textContent = "Backups are not available: " + error.message;
    }
  }

  // The services stop and start again: wait until the API answers again, then show the restored records.
  function restoring() {
    message.textContent = "Restoring: the services restart, this page reloads when they are back.";
    let seenAway = false;
    const poll = async () => {
      try {
        const response = await fetch("/api/v1/backups", { credentials: "same-origin" });
        if (response.ok && seenAway) { location.reload(); return; }
        if (!response.ok) seenAway = true;
      } catch (e) { seenAway = true; }
      setTimeout(poll, 500);
    };
    setTimeout(poll, 500);
  }

  now.addEventListener("click", async () => {
    now.disabled = true;
    message.textContent = "Backing up…";
    try {
      const made = await call("POST", "/api/v1/backups");
      message.textContent = "Backed up: " + made.name + ".";
    } catch (error) {
      message.textContent = "The backup failed: " + error.message;
    }
    now.disabled = false;
    load();
  });

  upload.addEventListener("change", async () => {
    const file = upload.files[0];
    if (!file || !confirm("Replace everything with " + file.name + "?")) return;
    message.textContent = "Uploading " + file.name + "…";
    const response = await fetch("/api/v1/backups/upload", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/octet-stream" }, body: file,
    });
    if (response.ok) { restoring(); return; }
    let reply = null;
    try { reply = await response.json(); } catch (e) { /* the status says it */ }
    message.textContent = "Not restored: " + ((reply && reply.detail) || response.status);
    upload.value = "";
  });

  load();
})();
