// The Queue page: draws every row of the jobs table (the only place a queue row is drawn), from the list the
// page was rendered with, from the API and from the live job-state events (jobs.js keeps them to the
// scheduler's record), with what each kind needs shown (a rename's current and new name, the app that asked,
// why a transcode is held); the toolbar's Clear, Release all and Release the ticked jobs.
(function () {
  "use strict";
  const lib = window.librarrarian;
  const { el, button, format, call } = lib;
  const table = document.getElementById("jobs");
  if (!table) return;
  const body = table.tBodies[0];
  const say = lib.reporter(document.getElementById("queue-message"));
  const DELETABLE = new Set(["awaiting_approval", "pending", "failed", "skipped"]);
  const KIND_NAMES = { quality_mismatch: "quality" };
  const HELD = "held: "; // how the scheduler begins the reason of a transcode held for an Arr app

  // What the kind of job needs said: the app that asked, a rename's current and new name, a hold.
  function details(job) {
    const parts = [];
    if (job.app) parts.push(el("span", "app", job.app));
    if (job.kind === "rename" && job.new_path) {
      const names = el("span", "rename");
      const from = el("span", "from", format.fileName(job.path));
      const to = el("span", "to", format.fileName(job.new_path));
      from.title = job.path;
      to.title = job.new_path;
      names.append(from, " \u2192 ", to);
      parts.push(names);
    } else if (job.kind === "transcode" && job.status === "awaiting_approval" && job.reason?.startsWith(HELD)) {
      parts.push(el("span", "held", "held"));
    }
    return parts;
  }

  // The record's reason, less what the details say already (a rename's new name, the word held).
  function said(job) {
    const text = job.reason || "";
    if (job.kind === "rename" && text.startsWith(job.app + ": rename to ")) return "";
    return text.startsWith(HELD) ? text.slice(HELD.length) : text;
  }

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
    const reason = cell("reason");
    for (const part of details(job)) reason.append(part, " ");
    reason.append(said(job));
    if (job.track_plan?.length) {
      // The transcode's track plan, shown before it runs: the streams its folder's rules drop, and why.
      const plan = el("details", "tracks");
      plan.append(el("summary", "", `tracks: ${job.track_plan.length} dropped`));
      const list = el("ul");
      for (const line of job.track_plan) list.append(el("li", "", line));
      plan.append(list);
      reason.append(plan);
    }
    if (full && job.error_log) {
      const log = el("details", "log");
      log.append(el("summary", "", "log"), el("pre", "", job.error_log));
      reason.append(log);
    } else if (!full && (job.status === "failed" || job.retry_at)) {
      reason.append(lib.lazyLog(job.id)); // the record holds a log there; the event did not carry it
    }
    const actions = cell("actions");
    if (job.status === "awaiting_approval") actions.append(button("release", "Release"), " ");
    if (job.status === "pending" && job.kind === "transcode") {
      actions.append(button("top", "Top"), " ", button("bottom", "Bottom"), " ");
    }
    if (DELETABLE.has(job.status)) actions.append(button("delete", "Delete"));
    const tick = cell("tick");
    if (job.status === "awaiting_approval") {
      const box = el("input");
      box.type = "checkbox";
      box.name = "chosen";
      box.value = String(job.id);
      box.setAttribute("aria-label", "Tick job " + job.id);
      box.checked = chosen.has(job.id);
      tick.append(box);
    }
    tr.append(
      tick, cell("id", String(job.id)), file, cell("kind", KIND_NAMES[job.kind] || job.kind), status,
      cell("attempts", String(job.attempts)), cell("node", job.node || lib.NONE), reason, cell("queued", format.when(job.queued_at)),
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
  const releaseChosen = document.getElementById("release-chosen");
  const chosen = new Set(); // ids of the ticked jobs, kept while their rows are drawn again
  function toolbar(jobs, counts) {
    const has = (wanted) => counts[wanted] > 0 || jobs.some((job) => job.status === wanted);
    if (clearPending) clearPending.disabled = !has("pending");
    if (releaseAll) releaseAll.disabled = !has("awaiting_approval");
    const waiting = new Set(jobs.filter((job) => job.status === "awaiting_approval").map((job) => job.id));
    for (const id of chosen) if (!waiting.has(id)) chosen.delete(id);
    if (releaseChosen) releaseChosen.disabled = !chosen.size;
  }
  body.addEventListener("change", (e) => {
    if (e.target.name !== "chosen") return;
    if (e.target.checked) chosen.add(Number(e.target.value));
    else chosen.delete(Number(e.target.value));
    releaseChosen.disabled = !chosen.size;
  });

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
  // Release the ticked jobs, one request each; those that could not be released say why.
  releaseChosen?.addEventListener("click", async () => {
    const ids = [...chosen];
    releaseChosen.disabled = true;
    const refused = [];
    for (const id of ids) {
      try {
        await call("POST", "/api/v1/jobs/" + id + "/release");
        chosen.delete(id);
      } catch (error) {
        refused.push(id + ": " + error.message);
      }
    }
    const released = ids.length - refused.length;
    say(released + " job(s) released: they are queued." + (refused.length ? " Not released: " + refused.join("; ") : ""), refused.length > 0);
    list.refresh();
  });

  const ofKind = (kind, sep) => (kind ? sep + "kind=" + encodeURIComponent(kind) : "");
  toolbarButton(releaseAll, "Release every {kind}job awaiting approval?",
    (kind) => ["POST", "/api/v1/jobs/release" + ofKind(kind, "?")],
    (answer) => answer.released + " job(s) released: they are queued.");
  toolbarButton(clearPending, "Delete every pending {kind}job?",
    (kind) => ["DELETE", "/api/v1/jobs?status=pending" + ofKind(kind, "&")],
    (answer) => answer.deleted + " pending job(s) deleted.");
})();
