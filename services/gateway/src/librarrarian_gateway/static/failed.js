// The Failed page: draws each failed job with its reason and error log (the only place one is drawn), from
// the list the page was rendered with and from the API; a job-state event about a failed job has the list
// read again, since events carry no error log (jobs.js). Retry and Delete on each.
(function () {
  "use strict";
  const lib = window.librarrarian;
  const { el, button, format } = lib;
  const list = document.getElementById("failed");
  if (!list) return;

  function item(job) {
    const article = el("article", "failed-job");
    const title = el("h3");
    const file = el("span", "file", format.fileName(job.path));
    file.title = job.path;
    title.append(file, " ", el("span", "status " + job.status, job.status));
    const attempts = job.attempts + " attempt(s)";
    const meta = ["#" + job.id, job.kind, attempts, job.node || "no node", format.when(job.finished_at)];
    const reason = el("p", "reason");
    reason.append(el("strong", "", "Reason:"), " " + (job.reason || "unknown"));
    article.append(title, el("p", "meta", meta.join(" · ")), el("p", "path", job.path), reason);
    if (job.error_log) {
      const log = el("details");
      log.open = true;
      log.append(el("summary", "", "Error log"), el("pre", "log", job.error_log));
      article.append(log);
    } else {
      article.append(el("p", "meta", "No error log."));
    }
    const controls = el("div", "controls");
    controls.append(button("retry", "Retry"), button("delete", "Delete"));
    article.append(controls);
    return article;
  }

  const { beforeId, limit } = list.dataset;
  const jobs = lib.jobList({
    container: list,
    data: lib.embedded("jobs-data"),
    query: { status: "failed", before_id: beforeId ? Number(beforeId) : null, limit: Number(limit) },
    draw: item,
    empty: () => el("p", "empty none", "No failed jobs."),
    pager: document.getElementById("older"),
    pagerUrl: (before) => "/failed?before_id=" + before,
    follows: false,
    fromEvents: false,
  });
  lib.jobActions(list, jobs, lib.reporter(document.getElementById("queue-message")));
})();
