// The dashboard's node cards, progress bars and version banner, drawn here alone: from the nodes the page was
// rendered with (in the shape of the live feed's snapshot), then from the live feed (live.js). A snapshot
// replaces every card; each change patches only what it touches, in place, so nothing flickers and nothing
// in a card loses focus. The tiles follow finished jobs; the queue's and each node's controls.
(function () {
  "use strict";
  const lib = window.librarrarian;
  const { el, format } = lib;
  const section = document.getElementById("nodes");
  if (!section) return;
  const nodes = new Map(); // KV key -> NodeStatus
  const progress = new Map(); // KV key (the job id, as text) -> JobProgress

  // While a target-VMAF job searches its level, the percent is the search's; its sample encodes' fps and ETA
  // would say nothing about the encode to come.
  // A file encoded in segments across nodes counts its done segments and names the nodes that encoded them;
  // its speed is seconds of the file per second, all nodes together (no one ffmpeg's fps).
  const numbers = (p) => p.phase === "searching" ? "searching quality · " + p.percent.toFixed(1) + " %"
    : p.segments ? p.percent.toFixed(1) + " % · segments " + (p.segments_done || 0) + "/" + p.segments +
      (p.nodes && p.nodes.length ? " by " + p.nodes.join(", ") : "") + " · " + (p.speed || 0).toFixed(2) +
      "× · ETA " + format.duration(p.eta_seconds)
    : p.percent.toFixed(1) + " % · " + Math.round(p.fps || 0) + " fps · " +
      (p.speed || 0).toFixed(2) + "× · ETA " + format.duration(p.eta_seconds);
  const cardOf = (key) => [...section.querySelectorAll("article.node")].find((c) => c.dataset.node === key);

  function fillJob(job, p) {
    const path = job.querySelector(".path");
    path.textContent = format.fileName(p.path);
    path.title = p.path;
    const bar = job.querySelector(".bar");
    bar.setAttribute("aria-valuenow", p.percent.toFixed(1));
    bar.firstElementChild.style.width = Math.min(Math.max(p.percent, 0), 100) + "%";
    job.querySelector(".numbers").textContent = numbers(p);
    job.classList.toggle("searching", p.phase === "searching");
  }

  function newJob(key) {
    const job = el("div", "job");
    job.dataset.job = key;
    const bar = el("div", "bar");
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.append(el("span"));
    job.append(el("div", "path"), bar, el("div", "numbers"));
    return job;
  }

  // The buttons a card offers in each state.
  const ACTIONS = {
    "running": [["pause", "Pause"], ["stop", "Stop"], ["stop-now", "Stop now"]],
    "off schedule": [["pause", "Pause"], ["stop", "Stop"], ["stop-now", "Stop now"]],
    "queue paused": [["pause", "Pause"], ["stop", "Stop"]],
    "paused": [["resume", "Resume"], ["stop-now", "Stop now"]],
    // Paused on its own while someone watches: it resumes by itself; the user may still pause or stop it.
    "paused for playback": [["pause", "Pause"], ["stop", "Stop"], ["stop-now", "Stop now"]],
    "draining": [["start", "Start"], ["stop-now", "Stop now"]],
    "stopped": [["start", "Start"]],
  };

  function fillControls(card, state) {
    const box = card.querySelector(".controls");
    const wanted = (ACTIONS[state] || []).map(([a]) => a).join(" ");
    if (box.dataset.for === wanted) return;
    box.dataset.for = wanted;
    box.replaceChildren(...(ACTIONS[state] || []).map(([action, label]) => lib.button(action, label)));
  }

  // Which ffmpeg each purpose (a hardware class, or vmaf) runs with on the node, and why: one line each, from
  // NodeStatus.ffmpeg; a node (or a contract) without it shows none.
  function fillFfmpeg(card, uses) {
    const list = card.querySelector(".ffmpeg");
    list.hidden = !uses.length;
    list.replaceChildren(...uses.map((use) => {
      const line = el("li", "", use.purpose + ": ffmpeg " + use.version + " (" + use.origin + ") — " + use.why);
      line.title = use.path;
      return line;
    }));
  }

  // The hardware classes whose test encode failed on the node, with why (NodeStatus.unusable).
  function fillUnusable(card, unusable) {
    const list = card.querySelector(".unusable");
    const classes = Object.keys(unusable).sort();
    list.hidden = !classes.length;
    list.replaceChildren(...classes.map((hw) => el("li", "", hw + ": " + unusable[hw])));
  }

  async function post(url) {
    try {
      return await lib.call("POST", url);
    } catch (error) {
      alert("That did not work: " + error.message);
      return null;
    }
  }

  section.addEventListener("click", (e) => {
    const control = e.target.closest("button[data-action]");
    const card = control?.closest("article.node");
    if (!card) return;
    control.disabled = true; // the node's next state (through the live feed) redraws the buttons
    post("/api/v1/nodes/" + encodeURIComponent(card.dataset.node) + "/" + control.dataset.action)
      .finally(() => { control.disabled = false; });
  });

  const queueToggle = document.getElementById("queue-toggle");
  queueToggle?.addEventListener("click", async () => {
    const paused = queueToggle.dataset.paused === "true";
    const answer = await post("/api/v1/queue/" + (paused ? "resume" : "pause"));
    if (!answer) return;
    queueToggle.dataset.paused = String(answer.paused);
    queueToggle.textContent = answer.paused ? "Resume the queue" : "Pause the queue";
  });

  function fillCard(card, n) {
    card.querySelector(".name").textContent = n.node;
    fillControls(card, n.state);
    const state = card.querySelector(".state");
    state.className = "state " + n.state;
    state.textContent = n.paused_for ? "paused: " + n.paused_for : n.state;
    // A node that sees no library encodes segments of other nodes' jobs only.
    card.querySelector(".meta").textContent = n.classes.join(", ") + " · " + n.slots + " slot(s) · v" + n.version +
      (n.library === false ? " · no library: segments only" : "");
    fillFfmpeg(card, n.ffmpeg || []);
    fillUnusable(card, n.unusable || {});
    lib.schedules.fill(card, n);
    const jobs = card.querySelector(".jobs");
    const wanted = [...progress.keys()].filter((id) => runs(n, id))
      .sort((a, b) => Number(a) - Number(b));
    const existing = new Map([...jobs.querySelectorAll(".job")].map((j) => [j.dataset.job, j]));
    const children = wanted.map((id) => {
      const job = existing.get(id) || newJob(id);
      fillJob(job, progress.get(id));
      return job;
    });
    if (!children.length) children.push(jobs.querySelector(":scope > .idle") || el("p", "idle", "Idle"));
    // Only touch the list when its membership changed: moving a node resets CSS transitions.
    const same = children.length === jobs.children.length && children.every((c, i) => jobs.children[i] === c);
    if (!same) jobs.replaceChildren(...children);
  }

  function newCard(key) {
    const card = el("article", "node");
    card.dataset.node = key;
    const title = el("h3");
    title.append(el("span", "name"), " ", el("span", "state"));
    const unusable = el("ul", "unusable");
    unusable.setAttribute("aria-label", "Hardware classes not usable here");
    card.append(title, el("p", "meta"), el("ul", "ffmpeg"), unusable, el("p", "schedule-line"),
      el("div", "controls"), lib.schedules.editor(key), el("div", "jobs"));
    return card;
  }

  function showNode(key) {
    const n = nodes.get(key);
    let card = cardOf(key);
    if (!card) {
      card = newCard(key);
      const after = [...section.querySelectorAll("article.node")].find((c) => c.dataset.node > key);
      section.querySelector(":scope > .empty")?.remove();
      section.insertBefore(card, after || null);
    }
    fillCard(card, n);
  }

  function removeNode(key) {
    cardOf(key)?.remove();
    if (!section.querySelector("article.node")) showEmpty();
  }
  const showEmpty = () => section.replaceChildren(el("p", "empty", "No encoder is connected."));

  // A job shows under its node as soon as its progress names it, before the node's next beat lists it.
  const runs = (n, id) => n.jobs.map(String).includes(id) || progress.get(id)?.node === n.node;
  function ownerOf(id) {
    for (const [key, n] of nodes) if (runs(n, id)) return key;
    return null;
  }

  // A banner names the nodes whose version differs from the dashboard's.
  const banner = document.getElementById("version-banner");
  function checkVersions() {
    if (!banner) return;
    const mine = banner.dataset.gatewayVersion;
    const outdated = [...nodes.values()].filter((n) => n.version !== mine).map((n) => n.node).sort();
    banner.hidden = !outdated.length;
    if (!outdated.length) return;
    const one = outdated.length === 1;
    banner.textContent = outdated.join(", ") + (one ? " runs" : " run") + " another version than the dashboard (" +
      mine + "): update " + (one ? "it" : "them") + " so every node follows the same rules.";
  }

  // Every card, from a snapshot (the live feed's, or the one the page was rendered with).
  function showAll(snapshot) {
    nodes.clear();
    progress.clear();
    for (const p of snapshot.progress) progress.set(p.key, p);
    for (const n of snapshot.nodes) nodes.set(n.key, n);
    for (const card of section.querySelectorAll("article.node")) if (!nodes.has(card.dataset.node)) card.remove();
    if (!nodes.size) showEmpty();
    for (const key of [...nodes.keys()].sort()) showNode(key);
    checkVersions();
  }

  // The tiles follow the jobs: each finished job asks for the totals once (a burst of them, once).
  let refreshing = null;
  function refreshTiles() {
    if (refreshing) return;
    refreshing = setTimeout(async () => {
      refreshing = null;
      let s;
      try { s = await lib.call("GET", "/api/v1/stats"); } catch (error) { return; }
      const set = (name, text) => { const t = document.querySelector('[data-tile="' + name + '"]'); if (t) t.textContent = text; };
      set("files_encoded", String(s.files_encoded));
      set("bytes_saved", format.size(s.bytes_saved));
      set("average_reduction", format.percent(s.average_reduction));
      set("queued", String((s.jobs.pending || 0) + (s.jobs.running || 0)));
      set("failed", String(s.jobs.failed || 0));
    }, 500);
  }

  showAll(lib.embedded("nodes-data") || { nodes: [], progress: [] });
  lib.on("job", refreshTiles);
  lib.on("snapshot", showAll);
  lib.on("node", (n) => { nodes.set(n.key, n); showNode(n.key); checkVersions(); });
  lib.on("node-removed", (r) => { nodes.delete(r.key); removeNode(r.key); checkVersions(); });
  lib.on("progress", (p) => {
    progress.set(p.key, p);
    const job = section.querySelector('.job[data-job="' + CSS.escape(p.key) + '"]');
    if (job) fillJob(job, p);
    else { const owner = ownerOf(p.key); if (owner) showNode(owner); }
  });
  lib.on("progress-removed", (r) => {
    const owner = ownerOf(r.key);
    progress.delete(r.key);
    if (owner) showNode(owner);
    else section.querySelector('.job[data-job="' + CSS.escape(r.key) + '"]')?.remove();
  });
})();
