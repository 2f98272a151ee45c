// The Queue page: draws every row of the jobs table (the only place a queue row is drawn), from the list the
// page was rendered with, from the API and from the live job-state events (jobs.js keeps them to the
// scheduler's record); the toolbar's Clear and Release all.
(function () {
  "use strict";
  const lib = window.librarrarian;
  const { el, button, format, call } = lib;
  const table = document.getElementById("jobs");
  if (!table) return;
  const body = table.tBodies[0];
  const say = lib.reporter(document.getElementById("queue-message"));
  const DELETABLE = new Set(["awaiting_approval", "pending", "failed", "skipped"]);

  function cell(cls = "", text) {
    return el("td", cls, text);
  }

  // One job as the record says it. `full`: the job came with its error log (from the API).
  function row(job, full) {
    const tr = el("tr");
    const file = cell("file", format.fileName(job.path));
    file.title = job.path;
    const status = cell();
    status.append(el("span", "status " + job.status, job.status));
    if (job.retry_at) status.append(" ", el("span", "retry", "retry at " + format.time(job.retry_at)));
    const reason = cell("reason", job.reason || "");
    if (full && job.error_log) {
      const log = el("details", "log");
      log.append(el("summary", "", "log"), el("pre", "", job.error_log));
      reason.append(log);
    } else if (!full && (job.status === "failed" || job.retry_at)) {
      reason.append(lib.lazyLog(job.id)); // the record holds a log there; the event did not carry it
    }
    const actions = cell("actions");
    if (job.status === "awaiting_approval") actions.append(button("release", "Release"), " ");
    if (DELETABLE.has(job.status)) actions.append(button("delete", "Delete"));
    tr.append(
      cell("id", String(job.id)), file, cell("kind", job.kind), status, cell("attempts", String(job.attempts)),
      cell("node", job.node || lib.NONE), reason, cell("queued", format.when(job.queued_at)),
      cell("started", format.when(job.started_at)), cell("finished", format.when(job.finished_at)), actions,
    );
    return tr;
  }

  function empty() {
    const tr = el("tr", "none");
    const td = cell("empty", "No jobs.");
    td.colSpan = table.tHead.rows[0].cells.length;
    tr.append(td);
    return tr;
  }

  // Clear and Release all are offered while the record has a job they would act on: one the API counted,
  // or one shown since.
  const clearPending = document.getElementById("clear-pending");
  const releaseAll = document.getElementById("release-all");
  function toolbar(jobs, counts) {
    const has = (wanted) => counts[wanted] > 0 || jobs.some((job) => job.status === wanted);
    if (clearPending) clearPending.disabled = !has("pending");
    if (releaseAll) releaseAll.disabled = !has("awaiting_approval");
  }

  const { status, kind, beforeId, limit } = table.dataset;
  const list = lib.jobList({
    container: body,
    data: lib.embedded("jobs-data"),
    query: { status, kind, before_id: beforeId ? Number(beforeId) : null, limit: Number(limit) },
    draw: row,
    empty,
    pager: document.getElementById("older"),
    pagerUrl: (before) => {
      const params = new URLSearchParams({ before_id: String(before) });
      if (status) params.set("status", status);
      if (kind) params.set("kind", kind);
      return "/queue?" + params;
    },
    follows: true,
    fromEvents: true,
    changed: toolbar,
  });
  lib.jobActions(body, list, say);

  // Clear every pending job, or release every one awaiting approval (of the page's type, when it has one).
  function toolbarButton(control, question, request, done) {
    control?.addEventListener("click", async () => {
      const what = control.dataset.kind ? control.dataset.kind + " " : "";
      if (!confirm(question.replace("{kind}", what))) return;
      control.disabled = true;
      try {
        say(done(await call(...request(control.dataset.kind))));
      } catch (error) {
        say("That did not work: " + error.message, true);
        control.disabled = false;
      }
      list.refresh();
    });
  }
  const ofKind = (kind, sep) => (kind ? sep + "kind=" + encodeURIComponent(kind) : "");
  toolbarButton(releaseAll, "Release every {kind}job awaiting approval?",
    (kind) => ["POST", "/api/v1/jobs/release" + ofKind(kind, "?")],
    (answer) => answer.released + " job(s) released: they are queued.");
  toolbarButton(clearPending, "Delete every pending {kind}job?",
    (kind) => ["DELETE", "/api/v1/jobs?status=pending" + ofKind(kind, "&")],
    (answer) => answer.deleted + " pending job(s) deleted.");
})();
