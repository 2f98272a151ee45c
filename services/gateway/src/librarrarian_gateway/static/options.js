// The Options page: Standard / Advanced / All views without a reload, the transcode settings saved through
// PATCH /api/v1/settings/transcode (only what changed; the API validates and its refusal is shown next to
// the form, which keeps every value typed), the theme (PATCH /api/v1/settings/ui) and the encoders' path
// mappings (PUT /api/v1/settings/paths).
(function () {
  "use strict";
  const form = document.getElementById("transcode");
  if (!form) return;
  const message = document.getElementById("transcode-message");
  const problem = document.getElementById("transcode-error");

  for (const link of document.querySelectorAll(".views a[data-view]")) {
    link.addEventListener("click", (e) => {
      e.preventDefault();
      for (const part of document.querySelectorAll("main [data-view]:not(a)")) part.dataset.view = link.dataset.view;
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
    for (const name of ["target_codec", "encoder_priority", "container", "quality_mode"]) data[name] = form.elements[name].value;
    for (const name of ["reencode_hevc", "reencode_av1", "reencode_vp9", "measure_vmaf", "skip_dolby_vision", "replace_hard_links"]) {
      data[name] = form.elements[name].checked;
    }
    const recycle = form.elements.recycle.value;  // "": not chosen (on while the installation is new)
    data.recycle = recycle === "" ? null : recycle === "true";
    for (const name of ["min_size_mb", "max_output_percent", "stall_seconds", "target_vmaf",
      "segment_min_minutes", "segment_seconds", "transfer_limit_gb"]) {
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
    try {
      await window.librarrarian.call("PATCH", "/api/v1/settings/transcode", body);
    } catch (error) {
      message.textContent = "Not saved.";
      showProblem(error.message);
      return;
    }
    showProblem("");
    saved = now;
    message.textContent = "Saved.";
  });
})();

// The theme: the page switches at once, the setting is saved for every browser, and a refusal puts the
// page back as it was.
(function () {
  "use strict";
  const fieldset = document.getElementById("theme");
  if (!fieldset) return;
  const message = document.getElementById("theme-message");
  let saved = (fieldset.querySelector("input:checked") || {}).value || "system";
  fieldset.addEventListener("change", async (e) => {
    const theme = e.target.value;
    window.librarrarianTheme(theme);
    message.textContent = "Saving…";
    try {
      await window.librarrarian.call("PATCH", "/api/v1/settings/ui", { theme });
      saved = theme;
      message.textContent = "Saved.";
      return;
    } catch (error) {
      message.textContent = "Not saved: " + error.message;
    }
    window.librarrarianTheme(saved);
    fieldset.querySelector(`input[value="${saved}"]`).checked = true;
  });
})();

// The encoders' path mappings: rows added and removed here, saved whole; the API checks them all and a
// refusal changes nothing, so every row stays as typed.
(function () {
  "use strict";
  const form = document.getElementById("paths");
  if (!form) return;
  const body = form.querySelector("tbody");
  const message = document.getElementById("paths-message");
  const problem = document.getElementById("paths-error");
  document.getElementById("add-path").addEventListener("click", () => {
    body.append(document.getElementById("path-row").content.cloneNode(true));
    body.lastElementChild.querySelector("[name=server]").focus();
  });
  body.addEventListener("click", (e) => {
    if (e.target.classList.contains("remove")) e.target.closest("tr").remove();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const mappings = [...body.querySelectorAll("tr")]
      .map((tr) => ({
        node: tr.querySelector("[name=node]").value || null,
        server: tr.querySelector("[name=server]").value.trim(),
        local: tr.querySelector("[name=local]").value.trim(),
      }))
      .filter((m) => m.server || m.local);  // an empty row is no mapping; a half-filled one is refused
    message.textContent = "Saving…";
    try {
      await window.librarrarian.call("PUT", "/api/v1/settings/paths", { mappings });
      problem.hidden = true;
      message.textContent = "Saved: nodes use them from their next job.";
    } catch (error) {
      message.textContent = "Not saved.";
      problem.textContent = error.message;
      problem.hidden = false;
    }
  });
})();

// The library folders: rows added and removed here (each folder picked with folders.js), saved whole with
// PUT /api/v1/settings/folders.
(function () {
  "use strict";
  const form = document.getElementById("folders");
  if (!form) return;
  const body = form.querySelector("tbody");
  const message = document.getElementById("folders-message");
  document.getElementById("add-folder").addEventListener("click", () => {
    body.append(document.getElementById("folder-row").content.cloneNode(true));
    body.lastElementChild.querySelector(".browse").click(); // a new row's folder is picked at once
  });
  body.addEventListener("click", (e) => {
    if (e.target.classList.contains("remove")) e.target.closest("tr").remove();
  });
  // A row's track rules; null when they keep every track.
  function tracksOf(tr) {
    const languages = tr.querySelector("[name=languages]").value.toLowerCase().split(/[\s,]+/).filter(Boolean);
    const dropCommentary = tr.querySelector("[name=drop_commentary]").checked;
    const imageSubtitles = tr.querySelector("[name=image_subtitles]").checked;
    if (!languages.length && !dropCommentary && imageSubtitles) return null;
    return { languages, drop_commentary: dropCommentary, image_subtitles: imageSubtitles };
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const folders = [...body.querySelectorAll("tr")]
      .map((tr) => ({
        path: tr.querySelector("[name=path]").value.trim(),
        type: tr.querySelector("[name=type]").value,
        tracks: tracksOf(tr),
        priority: Number(tr.querySelector("[name=priority]").value || 0),
        review: tr.querySelector("[name=review]").checked,
      }))
      .filter((f) => f.path);
    try {
      await window.librarrarian.call("PUT", "/api/v1/settings/folders", { folders });
      message.textContent = "Saved: the next scan uses them.";
    } catch (error) {
      message.textContent = "Not saved: " + error.message;
    }
  });
})();
