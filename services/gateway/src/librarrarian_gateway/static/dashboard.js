// Keeps the node cards current. A later version feeds this from server-sent events instead.
(function () {
  const nodes = document.getElementById("nodes");
  if (!nodes) return;
  const text = (tag, cls, value) => { const el = document.createElement(tag); if (cls) el.className = cls; el.textContent = value; return el; };
  const clock = (s) => { if (s == null) return "–"; s = Math.round(s); const m = Math.floor(s / 60), r = s % 60; return m + ":" + String(r).padStart(2, "0"); };
  function render(list) {
    if (!list.length) { nodes.replaceChildren(text("p", "empty", "No encoder is connected.")); return; }
    nodes.replaceChildren(...list.map((n) => {
      const card = document.createElement("article"); card.className = "node";
      const title = text("h3", "", n.node + " "); title.append(text("span", "state " + n.state, n.state));
      card.append(title, text("p", "meta", n.classes.join(", ") + " · " + n.slots + " slot(s) · v" + n.version));
      if (!n.progress.length) card.append(text("p", "idle", "Idle"));
      for (const p of n.progress) {
        const job = document.createElement("div"); job.className = "job";
        const bar = document.createElement("progress"); bar.max = 100; bar.value = p.percent;
        const path = text("div", "path", p.path.split("/").pop()); path.title = p.path;
        job.append(path, bar, text("div", "numbers", p.percent.toFixed(1) + " % · " + Math.round(p.fps || 0) + " fps · " + (p.speed || 0).toFixed(2) + "× · ETA " + clock(p.eta_seconds)));
        card.append(job);
      }
      return card;
    }));
  }
  async function refresh() {
    try {
      const response = await fetch("/api/v1/nodes", { credentials: "same-origin" });
      if (response.ok) render(await response.json());
    } catch (e) { /* the next refresh tries again */ }
  }
  setInterval(refresh, 2000);
})();
