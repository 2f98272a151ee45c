// The Queue page: draws every row of the jobs table (the only place a queue row is drawn), from the list the
// page was rendered with, from the API and from the live job-state events (jobs.js keeps them to the
// scheduler's record), with what each kind needs shown (a rename's current and new name, the app that asked,
// why a transcode is held, a waiting output's sizes, VMAF and preview frames); the toolbar's Clear, Release
// all and Release the ticked jobs, and Accept or Reject the ticked (or all) outputs waiting for review.
(function () {
  "use strict";
  const lib = window.librarrarian;
  const { el, button, format, call } = lib;
  const table = document.getElementById("jobs");
  if (!table) return;
  const body = table.tBodies[0];
  const say = lib.reporter(document.getElementById("queue-message"));
  const DELETABLE = new Set(["awaiting_approval", "pending", "failed", "skipped", "ready_to_replace"]);
  const KIND_NAMES = { quality_mismatch: "quality" };
  const HELD = "held: "; // how the scheduler begins the reason of a transcode held for an Arr app
  const READY = "ready_to_replace"; // an output waiting for review
  const TICKABLE = new Set(["awaiting_approval", READY]);

  // A waiting output as the user decides on it: both sizes and the saving, VMAF when measured, and the
  // two preview frames (the original's and the output's, at the same moment).
  function review(job) {
    const box = el("div", "review");
    const saving = job.size_before && job.size_after != null ? 1 - job.size_after / job.size_before : null;
    const figures = el("p", "figures");
    figures.append(
      el("span", "size-before", format.size(job.size_before)), " \u2192 ",
      el("span", "size-after", format.size(job.size_after)),
      saving == null ? "" : el("span", "saving", ` (${Math.round(saving * 100)}% saved)`),
      el("span", "vmaf", job.vmaf == null ? " · VMAF not measured" : ` · VMAF ${job.vmaf.toFixed(1)}`),
    );
    box.append(figures);
    if (job.previews) {
      const frames = el("div", "previews");
      for (const [of, label] of [["original", "Original"], ["output", "Output"]]) {
        const figure = el("figure");
        const img = el("img");
        img.loading = "lazy";
        img.alt = label + " frame of job " + job.id;
        img.src = "/api/v1/jobs/" + job.id + "/preview/" + of;
        img.width = 160;
        figure.append(img, el("figcaption", "", label));
        frames.append(figure);
      }
      box.append(frames);
    }
    return box;
  }

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
    if (job.status === READY) reason.prepend(review(job));
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
    if (job.status === READY) actions.append(button("accept", "Accept"), " ", button("reject", "Reject"), " ");
    if (job.status === "pending" && job.kind === "transcode") {
      actions.append(button("top", "Top"), " ", button("bottom", "Bottom"), " ");
    }
    if (DELETABLE.has(job.status)) actions.append(button("delete", "Delete"));
    const tick = cell("tick");
    if (TICKABLE.has(job.status)) {
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
  const acceptAll = document.getElementById("accept-all");
  const rejectAll = document.getElementById("reject-all");
  const acceptChosen = document.getElementById("accept-chosen");
  const rejectChosen = document.getElementById("reject-chosen");
  const chosen = new Map(); // id -> status of the ticked jobs, kept while their rows are drawn again
  const ticked = (status) => [...chosen].filter(([, s]) => s === status).map(([id]) => id);
  function ticks() {
    if (releaseChosen) releaseChosen.disabled = !ticked("awaiting_approval").length;
    for (const control of [acceptChosen, rejectChosen]) if (control) control.disabled = !ticked(READY).length;
  }
  function toolbar(jobs, counts) {
    const has = (wanted) => counts[wanted] > 0 || jobs.some((job) => job.status === wanted);
    if (clearPending) clearPending.disabled = !has("pending");
    if (releaseAll) releaseAll.disabled = !has("awaiting_approval");
    for (const control of [acceptAll, rejectAll]) if (control) control.disabled = !has(READY);
    const waiting = new Map(jobs.filter((job) => TICKABLE.has(job.status)).map((job) => [job.id, job.status]));
    for (const [id, s] of chosen) if (waiting.get(id) !== s) chosen.delete(id);
    ticks();
  }
  body.addEventListener("change", (e) => {
    if (e.target.name !== "chosen") return;
    const status = e.target.closest("tr")?.querySelector(".status")?.classList[1];
    if (e.target.checked) chosen.set(Number(e.target.value), status);
    else chosen.delete(Number(e.target.value));
    ticks();
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
  // Accept or reject the ticked outputs (one request for all of them), or every one waiting.
  function decide(control, accept, ids) {
    control?.addEventListener("click", async () => {
      const chosenIds = ids();
      const what = chosenIds.length ? chosenIds.length + " output(s)" : "every output waiting for review";
      const question = accept ? `Replace the originals with ${what}?` : `Delete ${what} (the originals stay)?`;
      if (!confirm(question)) return;
      control.disabled = true;
      try {
        const answer = await call("POST", "/api/v1/jobs/" + (accept ? "accept" : "reject"), { job_ids: chosenIds });
        for (const id of answer.job_ids) chosen.delete(id);
        say(answer.detail + (accept ? ": each replaces its original once checked." : ": each is deleted, its original kept."));
      } catch (error) {
        say("That did not work: " + error.message, true);
        control.disabled = false;
      }
      list.refresh();
    });
  }
  decide(acceptChosen, true, () => ticked(READY));
  decide(rejectChosen, false, () => ticked(READY));
  decide(acceptAll, true, () => []);
  decide(rejectAll, false, () => []);

  // Release the ticked jobs, one request each; those that could not be released say why.
  releaseChosen?.addEventListener("click", async () => {
    const ids = ticked("awaiting_approval");
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
