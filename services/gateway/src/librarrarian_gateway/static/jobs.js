// A page's list of jobs, kept to the scheduler's record (librarrarian.jobList): the Queue and Failed pages
// give it their filters and the function that draws one job; it draws the jobs the page was rendered with,
// reads them again from the API after every reconnect of the live feed and after every action, and applies
// each "job-state" event. Each job carries the record's version: whatever says less than what was shown
// already (a late answer, a late event) is ignored, so nothing ever sets a row back.
(function () {
  "use strict";
  const { el, call, on } = window.librarrarian;

  // options: container (the rows' parent), data (the page's list as the API answers it, or null),
  // query ({status, kind, before_id, limit}), draw(job, full) -> element (full: the job has its error log),
  // empty() -> the element shown when no job is, pager (the "older" link) and pagerUrl(beforeId),
  // follows (keep showing a job whose status left the page's filter), fromEvents (may a job be drawn from an
  // event, which carries no error log; otherwise an event has the page read the list again), and
  // changed(jobs, counts), told the jobs shown and the jobs per status the API last counted after each change.
  function jobList(options) {
    const { container, query, draw, empty, pager, pagerUrl, follows, fromEvents } = options;
    const rows = new Map(); // job id -> {job, full, seq, element}
    const seen = new Map(); // job id -> the newest version heard of, drawn or not (removed jobs too)
    let seq = 0; // counts changes, so a list read again knows which rows changed while it was asked for
    let reading = null; // the read in flight
    let again = false; // another read is wanted once it is done
    let counts = options.data?.counts || {};
    const changed = () => options.changed?.([...rows.values()].map((row) => row.job), counts);

    const matches = (job) => (!query.status || job.status === query.status) && (!query.kind || job.kind === query.kind);
    const firstPage = !query.before_id;

    function showEmpty() {
      if (!rows.size && !container.querySelector(".none")) container.replaceChildren(empty());
    }

    function place(id, element) {
      container.querySelector(":scope > .none")?.remove();
      const old = rows.get(id)?.element;
      if (old) return old.replaceWith(element);
      const after = [...rows.entries()].filter(([other]) => other < id).sort(([a], [b]) => b - a)[0];
      container.insertBefore(element, after ? after[1].element : null);
    }

    function drop(id) {
      rows.get(id)?.element.remove();
      rows.delete(id);
      showEmpty();
      changed();
    }

    function showPager(beforeId) {
      if (!pager) return;
      pager.hidden = beforeId == null;
      if (beforeId != null) pager.href = pagerUrl(beforeId);
    }

    // The first page shows no more rows than a page holds: the oldest make way, and "older" starts after them.
    function keepToOnePage() {
      if (!firstPage || rows.size <= query.limit) return;
      const ids = [...rows.keys()].sort((a, b) => b - a);
      for (const id of ids.slice(query.limit)) drop(id);
      showPager(ids[query.limit - 1]);
    }

    // Take one job as the record says it; `full`: from the API (with its error log), not from an event.
    function take(job, full, listed) {
      const known = seen.get(job.id);
      const drawn = rows.get(job.id);
      if (known !== undefined && (job.version < known || (job.version === known && !(full && !drawn?.full)))) {
        return; // older than what was heard, or the same record without more to show
      }
      seen.set(job.id, job.version);
      seq += 1;
      if (!drawn && !listed && !(firstPage && matches(job))) return;
      if (drawn && !follows && !matches(job)) return drop(job.id);
      const element = draw(job, full);
      element.dataset.job = String(job.id);
      place(job.id, element);
      rows.set(job.id, { job, full, seq, element });
      if (!listed) keepToOnePage();
      changed();
    }

    function forget(job) {
      seen.set(job.id, Math.max(job.version, seen.get(job.id) ?? job.version));
      seq += 1;
      drop(job.id);
    }

    // Read the page's list again; rows that were not changed since it was asked for and are not in it go
    // (or, on a page that follows its jobs, are read one by one).
    async function read() {
      const params = new URLSearchParams({ limit: String(query.limit) });
      if (query.status) params.set("status", query.status);
      if (query.kind) params.set("kind", query.kind);
      if (query.before_id) params.set("before_id", String(query.before_id));
      const asked = seq;
      const page = await call("GET", "/api/v1/jobs?" + params);
      counts = page.counts;
      const listed = new Set(page.items.map((job) => job.id));
      for (const job of page.items) take(job, true, true);
      const missing = [...rows].filter(([id, row]) => !listed.has(id) && row.seq <= asked).map(([id]) => id);
      // A page that follows its jobs keeps a row whose job left its filter: asked for alone, it stays
      // unless the record no longer has it (the list can miss a job between its change and its event).
      if (follows) await Promise.all(missing.map(followOne));
      else missing.forEach(drop);
      showPager(page.next_before_id);
      showEmpty();
      changed();
    }

    async function followOne(id) {
      try {
        take(await call("GET", "/api/v1/jobs/" + encodeURIComponent(id)), true, true);
      } catch (error) {
        if (error.status === 404) forget({ id, version: seen.get(id) ?? 0 });
        else console.warn("reading job " + id + " again failed:", error.message);
      }
    }

    function refresh() {
      if (reading) {
        again = true;
        return reading;
      }
      reading = read()
        .catch((error) => console.warn("reading the jobs again failed:", error.message))
        .finally(() => {
          reading = null;
          if (again) {
            again = false;
            refresh();
          }
        });
      return reading;
    }

    if (options.data) {
      for (const job of options.data.items) take(job, true, true);
      showPager(options.data.next_before_id);
    }
    showEmpty();

    on("snapshot", refresh);
    on("job-state", (event) => {
      const job = event.job;
      if (event.change === "removed") return forget(job);
      if (fromEvents) return take(job, false, false);
      // The page shows what an event does not carry (the error log): a job leaving the list goes now, any
      // other change to a job it shows or would show has it read the list again.
      if (rows.has(job.id) && !matches(job) && job.version > (seen.get(job.id) ?? -1)) return forget(job);
      if (rows.has(job.id) || (firstPage && matches(job))) refresh();
    });
    return { refresh };
  }

  // Messages next to the page's toolbar.
  function reporter(element) {
    return (text, bad) => {
      if (!element) return;
      element.textContent = text;
      element.classList.toggle("problem", Boolean(bad));
    };
  }

  // The buttons on each job (delete, retry, release) through the API; what they change comes back from
  // the scheduler's record (the list read again, and its job-state events).
  function jobActions(container, list, say) {
    const DONE = {
      delete: " deleted.", retry: " queued again.", release: " released: it is queued.",
      top: " moved to the top.", bottom: " moved to the bottom.",
      accept: " accepted: its output replaces the original once checked.",
      reject: " rejected: its output is deleted, the original kept.",
    };
    const MOVES = new Set(["top", "bottom"]);
    container.addEventListener("click", async (e) => {
      const control = e.target.closest("button[data-action]");
      const item = control && control.closest("[data-job]");
      if (!item || !(control.dataset.action in DONE)) return;
      const { job: id } = item.dataset;
      const { action } = control.dataset;
      const url = "/api/v1/jobs/" + encodeURIComponent(id);
      control.disabled = true;
      try {
        if (MOVES.has(action)) {
          // The scheduler says when the job was already handed to the encoders and keeps its place.
          say("Job " + id + ": " + (await call("POST", url + "/move", { to: action })).detail + ".");
        } else {
          await (action === "delete" ? call("DELETE", url) : call("POST", url + "/" + action));
          say("Job " + id + DONE[action]);
        }
      } catch (error) {
        say("That did not work: " + error.message, true);
      } finally {
        control.disabled = false;
      }
      list.refresh();
    });
  }

  // An error log the page does not hold yet, read when its <details> is first opened.
  function lazyLog(jobId) {
    const log = el("details", "log");
    const text = el("pre");
    log.append(el("summary", "", "log"), text);
    log.addEventListener("toggle", async () => {
      if (!log.open || log.dataset.read) return;
      log.dataset.read = "true";
      try {
        text.textContent = (await call("GET", "/api/v1/jobs/" + jobId)).error_log || "No error log.";
      } catch (error) {
        text.textContent = "Could not read the log: " + error.message;
        delete log.dataset.read;
      }
    });
    return log;
  }

  Object.assign(window.librarrarian, { jobList, jobActions, reporter, lazyLog });
})();
