// The Tools page: start a scan, follow every scan live (the `scans` bucket through the live feed), cancel
// one; scan an Arr app for renames or quality (followed in the same table, their summary on the live feed);
// look for stale files (their summary arrives on the live feed); import a settings file. Exporting is a
// plain download link.
(function () {
  "use strict";
  const lib = window.librarrarian;
  const { format, call } = lib;
  const body = document.querySelector("#scans tbody");
  const scans = new Map(); // scan id -> ScanStatus
  const FINISHED = new Set(["done", "cancelled", "failed"]);

  const cell = (text) => lib.el("td", "", text);

  function row(s) {
    const tr = document.createElement("tr");
    tr.dataset.scan = s.scan_id;
    tr.append(
      cell(format.time(s.started_at)),
      cell(s.trigger),
      cell(s.kind && s.kind !== "library" ? s.app + " (" + s.kind + ")" : s.roots.join(", ") || "all"),
      cell(s.state + (s.force ? " (force)" : "")),
      cell(String(s.seen)), cell(s.probed + " / " + s.to_probe), cell(String(s.queued)), cell(String(s.errors)),
      cell(s.rate ? s.rate.toFixed(1) + "/s" : lib.NONE), cell(format.duration(s.eta_seconds)),
    );
    const actions = document.createElement("td");
    if (!FINISHED.has(s.state)) {
      const cancel = lib.el("button", "", "Cancel");
      cancel.type = "button";
      cancel.addEventListener("click", async () => {
        cancel.disabled = true;
        try {
          await call("POST", "/api/v1/scans/" + encodeURIComponent(s.scan_id) + "/cancel");
        } catch (error) {
          cancel.disabled = false;
          alert("That did not work: " + error.message);
        }
      });
      actions.append(cancel);
    }
    tr.append(actions);
    return tr;
  }

  function draw() {
    const rows = [...scans.values()].sort((a, b) => (a.started_at < b.started_at ? 1 : -1)).map(row);
    if (!rows.length) {
      const empty = lib.el("tr", "empty");
      empty.append(cell("No scan yet."));
      empty.firstChild.colSpan = 11;
      rows.push(empty);
    }
    body.replaceChildren(...rows);
  }

  const { on } = lib;
  on("snapshot", (s) => { scans.clear(); for (const x of s.scans || []) scans.set(x.scan_id, x); draw(); });
  on("scan", (s) => { scans.set(s.scan_id, s); draw(); });
  on("scan-removed", (r) => { for (const [id, s] of scans) if (s.key === r.key) scans.delete(id); draw(); });

  const form = document.getElementById("scan-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const root = form.elements.root.value.trim();
    const message = form.querySelector(".message");
    try {
      await call("POST", "/api/v1/scans", { roots: root ? [root] : [], force: form.elements.force.checked });
      message.textContent = "Scan requested.";
    } catch (error) {
      message.textContent = "Not started: " + error.message;
    }
  });

  // An Arr app's scans: requested from its row, which says how each ended (the summary may arrive on the live
  // feed before the request's own answer does: the latest ones are kept).
  const arrScans = new Map(); // scan id -> the row's message element
  const arrSummaries = new Map();
  const REVIEW = { rename: "/queue?kind=rename&status=awaiting_approval", quality: "/queue?kind=quality_mismatch" };
  function showArrSummary(message, summary) {
    const ended = summary.cancelled ? "cancelled" : summary.problem ? "failed (" + summary.problem + ")" : "done";
    const text = summary.app + " " + summary.kind + " scan " + ended + ": " + summary.items + " item(s), " +
      summary.found + " file(s) found. ";
    message.replaceChildren(text);
    if (summary.found) {
      const review = document.createElement("a");
      review.href = REVIEW[summary.kind];
      review.textContent = "Review them in the queue";
      message.append(review);
    }
  }
  for (const control of document.querySelectorAll("#arr-scans button[data-scan]")) {
    control.addEventListener("click", async () => {
      const row = control.closest("tr");
      const message = row.querySelector(".message");
      const kind = control.dataset.scan;
      try {
        const answer = await call("POST", "/api/v1/arr/" + row.dataset.app + "/scans", { kind });
        arrScans.set(answer.id, message);
        message.textContent = (kind === "rename" ? "Rename" : "Quality") + " scan requested.";
        if (arrSummaries.has(answer.id)) showArrSummary(message, arrSummaries.get(answer.id));
      } catch (error) {
        message.textContent = "Not started: " + error.message;
      }
    });
  }
  on("arr-scan", (summary) => {
    arrSummaries.set(summary.scan_id, summary);
    if (arrSummaries.size > 20) arrSummaries.delete(arrSummaries.keys().next().value);
    if (arrScans.has(summary.scan_id)) showArrSummary(arrScans.get(summary.scan_id), summary);
  });

  const stale = document.getElementById("find-stale");
  const staleMessage = document.getElementById("cleanup-message");
  let staleScan = null;
  // The summary can arrive on the live feed before the request's own answer does: keep the latest ones.
  const summaries = new Map();
  function showSummary(summary) {
    stale.disabled = false;
    staleMessage.replaceChildren("Found " + summary.found + " stale file(s), " + format.size(summary.size) + ". ");
    if (summary.found) {
      const review = document.createElement("a");
      review.href = "/queue?kind=cleanup&status=awaiting_approval";
      review.textContent = "Review them in the queue";
      staleMessage.append(review);
    }
    if (summary.unreadable.length) staleMessage.append(" Could not read: " + summary.unreadable.join(", "));
  }
  stale.addEventListener("click", async () => {
    stale.disabled = true;
    let answer;
    try {
      answer = await call("POST", "/api/v1/cleanup/scan");
    } catch (error) {
      staleMessage.textContent = "Not started: " + error.message;
      stale.disabled = false;
      return;
    }
    staleScan = answer.id;
    staleMessage.textContent = "Looking for stale files…";
    if (summaries.has(staleScan)) showSummary(summaries.get(staleScan));
  });
  on("cleanup", (summary) => {
    if (summary.type !== "cleanup.scan_completed") return;
    summaries.set(summary.scan_id, summary);
    if (summaries.size > 20) summaries.delete(summaries.keys().next().value);
    if (summary.scan_id === staleScan) showSummary(summary);
  });

  document.getElementById("import-file").addEventListener("change", async (e) => {
    const message = document.getElementById("import-message");
    const file = e.target.files[0];
    if (!file) return;
    let document_;
    try { document_ = JSON.parse(await file.text()); } catch { message.textContent = "Not a JSON file."; return; }
    try {
      message.textContent = "Imported: " + (await call("POST", "/api/v1/settings/import", document_)).imported.join(", ");
    } catch (error) {
      message.textContent = "Nothing changed: " + error.message;
    }
    e.target.value = "";
  });
})();
