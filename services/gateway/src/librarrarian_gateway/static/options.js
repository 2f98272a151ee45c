// The Options page: Standard / Advanced / All views without a reload, the transcode settings saved through
// PATCH /api/v1/settings/transcode (only what changed; the API validates and its refusal is shown next to
// the form, which keeps every value typed), and the theme switch.
(function () {
  "use strict";
  const form = document.getElementById("transcode");
  if (!form) return;
  const message = document.getElementById("transcode-message");
  const problem = document.getElementById("transcode-error");

  for (const link of document.querySelectorAll(".views a[data-view]")) {
    link.addEventListener("click", (e) => {
      e.preventDefault();
      form.dataset.view = link.dataset.view;
      for (const other of document.querySelectorAll(".views a[data-view]")) {
        if (other === link) other.setAttribute("aria-current", "page");
        else other.removeAttribute("aria-current");
      }
      history.replaceState(null, "", "?view=" + link.dataset.view);
    });
  }

  // A number field as the API wants it; anything else goes as typed, so the API names what is wrong.
  const number = (text) => (text.trim() !== "" && !isNaN(Number(text)) ? Number(text) : text);

  function collect() {
    const data = {};
    for (const name of ["target_codec", "encoder_priority", "container"]) data[name] = form.elements[name].value;
    for (const name of ["reencode_hevc", "reencode_av1", "reencode_vp9"]) data[name] = form.elements[name].checked;
    for (const name of ["min_size_mb", "max_output_percent", "stall_seconds"]) {
      data[name] = number(form.elements[name].value);
    }
    const quality = {};
    for (const cell of form.querySelectorAll("td.cell")) {
      const family = (quality[cell.dataset.family] ||= {});
      family[cell.dataset.tier] = {
        level: number(cell.querySelector('[name="level"]').value),
        preset: cell.querySelector('[name="preset"]').value,
        ten_bit: cell.querySelector('[name="ten_bit"]').checked,
      };
    }
    data.quality = quality;
    return data;
  }

  function changes(before, now) {
    const changed = {};
    for (const [key, value] of Object.entries(now)) {
      if (key === "quality") {
        const families = {};
        for (const [family, tiers] of Object.entries(value)) {
          if (JSON.stringify(tiers) !== JSON.stringify(before.quality[family])) families[family] = tiers;
        }
        if (Object.keys(families).length) changed.quality = families;
      } else if (value !== before[key]) changed[key] = value;
    }
    return changed;
  }

  function showProblem(text) {
    for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
    problem.hidden = !text;
    problem.textContent = text || "";
    const named = text && /\$\.(\w+)/.exec(text);
    if (named && form.elements[named[1]] instanceof HTMLElement) {
      form.elements[named[1]].setAttribute("aria-invalid", "true");
    }
  }

  let saved = collect();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const now = collect();
    const body = changes(saved, now);
    if (!Object.keys(body).length) {
      showProblem("");
      message.textContent = "Nothing changed.";
      return;
    }
    message.textContent = "Saving…";
    const response = await fetch("/api/v1/settings/transcode", {
      method: "PATCH",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let reply = null;
    try { reply = await response.json(); } catch (err) { /* not JSON: use the status text */ }
    if (!response.ok) {
      message.textContent = "Not saved.";
      const detail = reply && reply.detail;
      showProblem(typeof detail === "string" ? detail : JSON.stringify(detail || response.statusText));
      return;
    }
    showProblem("");
    saved = now;
    message.textContent = "Saved.";
  });

  for (const radio of document.querySelectorAll('#theme input[name="theme"]')) {
    radio.addEventListener("change", () => { if (radio.checked) window.librarrarianTheme(radio.value); });
  }
})();

// The library folders: rows added and removed here, saved whole with PUT /api/v1/settings/folders.
(function () {
  "use strict";
  const form = document.getElementById("folders");
  if (!form) return;
  const body = form.querySelector("tbody");
  const message = document.getElementById("folders-message");
  document.getElementById("add-folder").addEventListener("click", () => {
    body.append(document.getElementById("folder-row").content.cloneNode(true));
  });
  body.addEventListener("click", (e) => {
    if (e.target.classList.contains("remove")) e.target.closest("tr").remove();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const folders = [...body.querySelectorAll("tr")]
      .map((tr) => ({ path: tr.querySelector("[name=path]").value.trim(), type: tr.querySelector("[name=type]").value }))
      .filter((f) => f.path);
    const response = await fetch("/api/v1/settings/folders", {
      method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ folders }),
    });
    if (response.ok) { message.textContent = "Saved: the next scan uses them."; return; }
    const detail = (await response.json()).detail;
    message.textContent = "Not saved: " + (typeof detail === "string" ? detail : JSON.stringify(detail));
  });
})();
