// The Queue and Failed pages: delete, retry, release and clear through the REST API, and queue rows that
// follow the live job events (live.js dispatches "live:job") without a reload. The row markup matches
// queue.html.
(function () {
  "use strict";
  const message = document.getElementById("queue-message");
  const table = document.getElementById("jobs");
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  function say(text, bad) {
    if (!message) return;
    message.textContent = text;
    message.classList.toggle("problem", Boolean(bad));
  }

  async function call(method, url) {
    const response = await fetch(url, { method, credentials: "same-origin" });
    let body = null;
    try { body = await response.json(); } catch (e) { /* not JSON: use the status text */ }
    if (!response.ok) {
      say("That did not work: " + ((body && body.detail) || response.statusText), true);
      return null;
    }
    return body || {};
  }

  function showEmptyIfNeeded() {
    if (table) {
      const body = table.tBodies[0];
      if (!body.querySelector("tr[data-job]") && !body.querySelector("tr.none")) {
        const row = el("tr", "none");
        const cell = el("td", "empty", "No jobs.");
        cell.colSpan = 11;
        row.append(cell);
        body.append(row);
      }
    } else {
      const list = document.getElementById("failed");
      if (list && !list.querySelector("[data-job]")) list.replaceChildren(el("p", "empty", "No failed jobs."));
    }
  }

  document.addEventListener("click", async (e) => {
    const button = e.target.closest("button[data-action]");
    const item = button && button.closest("[data-job]");
    if (!item) return;
    const id = item.dataset.job;
    const action = button.dataset.action;
    const url = "/api/v1/jobs/" + encodeURIComponent(id);
    button.disabled = true;
    const done = action === "delete" ? await call("DELETE", url) : await call("POST", url + "/" + action);
    button.disabled = false;
    if (!done) return;
    if (action === "release") {
      say("Job " + id + " released: it is queued.");
      markQueued(item);
      return;
    }
    say(action === "delete" ? "Job " + id + " deleted." : "Job " + id + " queued again.");
    item.remove();
    showEmptyIfNeeded();
  });

  // A released row: pending now, and only deletable. Its live events may have come first (a cleanup takes
  // milliseconds): a row that has moved on already is left as they said.
  function markQueued(row) {
    row.querySelector('button[data-action="release"]')?.remove();
    const badge = row.querySelector(".status");
    if (badge.textContent !== "awaiting_approval") return;
    badge.className = "status pending";
    badge.textContent = "pending";
    row.querySelector(".attempts").textContent = "1";
  }

  const releaseAll = document.getElementById("release-all");
  if (releaseAll) {
    releaseAll.addEventListener("click", async () => {
      const kind = releaseAll.dataset.kind;
      if (!confirm("Release every " + (kind ? kind + " " : "") + "job awaiting approval?")) return;
      releaseAll.disabled = true;
      const done = await call("POST", "/api/v1/jobs/release" + (kind ? "?kind=" + encodeURIComponent(kind) : ""));
      if (!done) { releaseAll.disabled = false; return; }
      say(done.released + " job(s) released: they are queued.");
      if (table) for (const row of table.querySelectorAll("tr[data-job]")) {
        const waiting = row.querySelector(".status").textContent === "awaiting_approval";
        if (waiting && (!kind || row.querySelector(".kind").textContent === kind)) markQueued(row);
      }
    });
  }

  const clear = document.getElementById("clear-pending");
  if (clear) {
    clear.addEventListener("click", async () => {
      const kind = clear.dataset.kind;
      if (!confirm("Delete every pending " + (kind ? kind + " " : "") + "job?")) return;
      clear.disabled = true;
      const done = await call("DELETE", "/api/v1/jobs?status=pending" + (kind ? "&kind=" + encodeURIComponent(kind) : ""));
      if (!done) { clear.disabled = false; return; }
      say(done.deleted + " pending job(s) deleted.");
      if (table) for (const row of table.querySelectorAll("tr[data-job]")) {
        if (row.querySelector(".status").textContent === "pending") row.remove();
      }
      showEmptyIfNeeded();
    });
  }

  if (!table) return;

  const pad = (n) => String(n).padStart(2, "0");
  const when = (iso) => { // like the server's "when" filter: local time, YYYY-MM-DD HH:MM:SS
    const d = new Date(iso);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  };

  // What a job event says about the job's row: its status, and the reason to show.
  function outcome(ev) {
    switch (ev.type) {
      case "job.started": return ["running", ""];
      case "job.completed": return ["done", ""];
      case "job.skipped": return ["skipped", ev.reason || ""];
      case "job.cleanup_finished": return ev.removed ? ["done", ev.reason || ""] : ["skipped", ev.reason || ""];
      case "job.failed": return ev.retryable === false
        ? ["failed", ev.reason || ""]
        : ["pending", "attempt " + ev.attempt + " failed: " + (ev.reason || "") + " (retried while attempts remain)"];
      default: return [null, ""];
    }
  }

  function newRow(ev) {
    const row = el("tr");
    row.dataset.job = String(ev.job_id);
    const file = el("td", "file", ev.path.split("/").pop());
    file.title = ev.path;
    const status = el("td");
    status.append(el("span", "status"));
    const kind = ev.type === "job.cleanup_finished" ? "cleanup" : "transcode";
    row.append(el("td", "", String(ev.job_id)), file, el("td", "kind", kind), status,
      el("td", "attempts", String(ev.attempt)), el("td", "node", "–"), el("td", "reason"),
      el("td", "", "–"), el("td", "started", "–"), el("td", "finished", "–"), el("td", "actions"));
    return row;
  }

  function fill(row, ev, status, reason) {
    const badge = row.querySelector(".status");
    badge.className = "status " + status;
    badge.textContent = status;
    row.querySelector(".attempts").textContent = String(ev.attempt);
    if (ev.node) row.querySelector(".node").textContent = ev.node;
    const why = row.querySelector(".reason");
    if (reason || status !== "running") why.textContent = reason;
    if (ev.type === "job.started") row.querySelector(".started").textContent = when(ev.occurred_at);
    if (status === "done" || status === "skipped" || status === "failed") {
      row.querySelector(".finished").textContent = when(ev.occurred_at);
    }
    const actions = row.querySelector(".actions");
    if (status === "running" || status === "done") actions.replaceChildren();
    else if (!actions.querySelector("button")) {
      const b = el("button", "control", "Delete");
      b.type = "button";
      b.dataset.action = "delete";
      actions.append(b);
    }
  }

  document.addEventListener("live:job", (e) => {
    const ev = e.detail;
    const [status, reason] = outcome(ev);
    if (!status) return;
    const body = table.tBodies[0];
    let row = body.querySelector('tr[data-job="' + CSS.escape(String(ev.job_id)) + '"]');
    if (!row) {
      // Only the newest page gains rows, and only rows its filters would show.
      if (table.dataset.firstPage !== "true") return;
      if (table.dataset.kind && table.dataset.kind !== (ev.type === "job.cleanup_finished" ? "cleanup" : "transcode")) return;
      if (table.dataset.status && table.dataset.status !== status) return;
      row = newRow(ev);
      const after = [...body.querySelectorAll("tr[data-job]")].find((r) => Number(r.dataset.job) < ev.job_id);
      body.querySelector("tr.none")?.remove();
      body.insertBefore(row, after || null);
    }
    fill(row, ev, status, reason);
  });
})();
