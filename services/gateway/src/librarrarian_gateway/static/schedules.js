// A node card's schedule: the line saying where the node stands in its windows (from its NodeStatus.schedule,
// which the node computes in its own time zone), and the editor of its windows (GET and PUT
// /api/v1/nodes/{node}/schedule). Shared as window.librarrarian.schedules for dashboard.js.
(function () {
  "use strict";
  const lib = window.librarrarian;
  const { el } = lib;
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const NAMES = { mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun" };
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  // "Mon–Fri", "every day", "Sat, Sun": a run of three or more days in a row is shown as a range.
  function days(list) {
    if (list.length === 7) return "every day";
    const indexes = list.map((d) => DAYS.indexOf(d)).sort((a, b) => a - b);
    const runs = [];
    for (const i of indexes) {
      const last = runs[runs.length - 1];
      if (last && last[1] === i - 1) last[1] = i; else runs.push([i, i]);
    }
    return runs.map(([a, b]) => b - a >= 2 ? NAMES[DAYS[a]] + "–" + NAMES[DAYS[b]]
      : DAYS.slice(a, b + 1).map((d) => NAMES[d]).join(", ")).join(", ");
  }

  const window_ = (w) => days(w.days) + " " + w.start + "–" + w.end;

  // The node's own wall-clock time: an instant it sent carries its UTC offset, so its date and time as
  // written are the node's, whatever the browser's time zone.
  function local(iso) {
    const [date, rest] = iso.split("T");
    const [y, m, d] = date.split("-").map(Number);
    const weekday = DAYS[(new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7];
    return { day: NAMES[weekday] + " " + d + " " + MONTHS[m - 1], date, time: rest.slice(0, 5) };
  }

  function span(startIso, endIso) {
    const start = local(startIso), end = local(endIso);
    return start.day + " " + start.time + "–" + (end.date === start.date ? "" : end.day + " ") + end.time;
  }

  // "Schedule (Europe/Paris): Mon–Fri 01:00–07:00 · next window Mon 10 Mar 01:00–07:00".
  function describe(s) {
    const parts = ["Schedule (" + s.time_zone + "): " + s.windows.map(window_).join(", ")];
    if (s.open && s.open_until) parts.push("in a window until " + local(s.open_until).day + " " + local(s.open_until).time);
    if (s.next_start && s.next_end) parts.push("next window " + span(s.next_start, s.next_end));
    return parts.join(" · ");
  }

  function fill(card, n) {
    const line = card.querySelector(".schedule-line");
    line.hidden = !n.schedule;
    line.textContent = n.schedule ? describe(n.schedule) : "";
  }

  function row(w) {
    const line = el("div", "window");
    for (const d of DAYS) {
      const label = el("label", "day");
      const box = el("input");
      box.type = "checkbox";
      box.name = d;
      box.checked = !w || w.days.includes(d);
      label.append(box, NAMES[d]);
      line.append(label);
    }
    for (const [name, value, text] of [["start", w ? w.start : "01:00", "from"], ["end", w ? w.end : "07:00", "to"]]) {
      const label = el("label", "", text + " ");
      const input = el("input");
      input.type = "time";
      input.name = name;
      input.value = value;
      label.append(input);
      line.append(label);
    }
    const remove = el("button", "control", "Remove");
    remove.type = "button";
    remove.addEventListener("click", () => line.remove());
    line.append(remove);
    return line;
  }

  function read(editor) {
    return [...editor.querySelectorAll(".window")].map((line) => ({
      days: DAYS.filter((d) => line.querySelector('input[name="' + d + '"]').checked),
      start: line.querySelector('input[name="start"]').value,
      end: line.querySelector('input[name="end"]').value,
    }));
  }

  // The editor: drawn once per card and filled from the API each time it is opened, so the card's live
  // redraws never touch what the user is typing.
  function editor(node) {
    const box = el("details", "schedule-edit");
    const windows = el("div", "windows");
    const note = el("p", "note", "No window: the node takes work at any time. Times are the node's (its TZ).");
    const add = el("button", "control", "Add a window");
    add.type = "button";
    add.addEventListener("click", () => windows.append(row(null)));
    const save = el("button", "control", "Save the schedule");
    save.type = "button";
    const said = el("span", "said");
    said.setAttribute("role", "status");
    save.addEventListener("click", async () => {
      save.disabled = true;
      try {
        await lib.call("PUT", "/api/v1/nodes/" + encodeURIComponent(node) + "/schedule", { windows: read(box) });
        said.textContent = "Saved.";
      } catch (error) {
        said.textContent = "Not saved: " + error.message;
      } finally {
        save.disabled = false;
      }
    });
    box.append(el("summary", "", "Schedule"), note, windows, add, save, said);
    box.addEventListener("toggle", async () => {
      if (!box.open) return;
      said.textContent = "";
      try {
        const s = await lib.call("GET", "/api/v1/nodes/" + encodeURIComponent(node) + "/schedule");
        windows.replaceChildren(...s.windows.map(row));
      } catch (error) {
        said.textContent = "Could not read the schedule: " + error.message;
      }
    });
    return box;
  }

  lib.schedules = { fill, editor, describe };
})();
