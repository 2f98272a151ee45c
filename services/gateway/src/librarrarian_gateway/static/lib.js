// What every page's script shares, as window.librarrarian: one way to call the API, one set of formatters
// (the same rules as the server's formatting.py, held to them by a browser test), an element builder, and
// the live feed's events (live.js) as callbacks.
(function () {
  "use strict";
  const NONE = "\u2013"; // an en dash: how tables show "no value"
  const pad = (n) => String(n).padStart(2, "0");

  // A number with `digits` decimals, ties away from zero (toFixed's rule, which formatting.py follows too).
  const fixed = (value, digits) => value.toFixed(digits);

  const format = {
    size(bytes) {
      if (bytes == null) return NONE;
      let amount = bytes;
      for (const unit of ["B", "KB", "MB", "GB", "TB"]) {
        if (Math.abs(amount) < 1000 || unit === "TB") return fixed(amount, unit === "B" ? 0 : 1) + " " + unit;
        amount /= 1000;
      }
      return NONE;
    },
    // m:ss, or h:mm:ss from an hour on
    duration(seconds) {
      if (seconds == null) return NONE;
      const s = Math.round(seconds);
      const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
      return h ? h + ":" + pad(m) + ":" + pad(s % 60) : m + ":" + pad(s % 60);
    },
    percent(fraction) {
      return fraction == null ? NONE : fixed(fraction * 100, 0) + " %";
    },
    // a moment in the browser's time zone: YYYY-MM-DD HH:MM:SS
    when(iso) {
      if (iso == null) return NONE;
      const d = new Date(iso);
      return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + format.time(iso);
    },
    time(iso) {
      if (iso == null) return NONE;
      const d = new Date(iso);
      return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    },
    fileName: (path) => path.split("/").pop(),
  };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function button(action, label) {
    const b = el("button", "control", label);
    b.type = "button";
    b.dataset.action = action;
    return b;
  }

  // A refusal of the API: its reason as one line, and the HTTP status.
  class Refused extends Error {
    constructor(message, status) {
      super(message);
      this.status = status;
    }
  }

  function reason(reply, response) {
    const detail = reply && reply.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d) => (d.loc || []).slice(1).join(".") + ": " + d.msg).join("; ");
    return (response.status + " " + (response.statusText || "")).trim();
  }

  // The API's answer as JSON (null when it has no body); a refusal is thrown as Refused.
  async function call(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let reply = null;
    try { reply = await response.json(); } catch (e) { /* no JSON body: the status says it */ }
    if (!response.ok) throw new Refused(reason(reply, response), response.status);
    return reply;
  }

  // The data a page was rendered with (a <script type="application/json"> element), or null.
  function embedded(id) {
    const holder = document.getElementById(id);
    return holder ? JSON.parse(holder.textContent) : null;
  }

  // A live feed event (live.js dispatches each as "live:<name>" on document).
  const on = (name, handler) => document.addEventListener("live:" + name, (e) => handler(e.detail));

  window.librarrarian = { NONE, format, el, button, call, Refused, embedded, on };
})();
