// The folder picker of the Options page: a library folder is chosen from the media paths' folders
// (GET /api/v1/media/folders), not typed. The server decides what may be listed; this only walks it.
(function () {
  "use strict";
  const dialog = document.getElementById("folder-picker");
  const table = document.querySelector("#folders tbody");
  if (!dialog || !table) return;
  const { call, el } = window.librarrarian;
  const shown = document.getElementById("picker-path");
  const list = document.getElementById("picker-folders");
  const up = document.getElementById("picker-up");
  const choose = document.getElementById("picker-choose");
  const problem = document.getElementById("picker-error");
  let target = null;
  let listing = { path: null, parent: null, folders: [] };

  function render() {
    shown.textContent = listing.path || "The media paths";
    up.disabled = !listing.path;
    choose.disabled = !listing.path;
    const items = listing.folders.map((folder) => {
      const item = el("li");
      const open = el("button", "folder", folder.name);
      open.type = "button";
      open.dataset.path = folder.path;
      item.append(open);
      return item;
    });
    if (!items.length) items.push(el("li", "hint", "No folder inside."));
    if (listing.truncated) items.push(el("li", "hint", "More folders than these: only the first ones are shown."));
    list.replaceChildren(...items);
  }

  async function show(path) {
    const url = "/api/v1/media/folders" + (path ? "?path=" + encodeURIComponent(path) : "");
    try {
      listing = await call("GET", url);
      problem.hidden = true;
    } catch (error) {
      problem.textContent = error.message;
      problem.hidden = false;
      if (path) return show(null); // a folder gone meanwhile: start again from the media paths
    }
    render();
  }

  table.addEventListener("click", (e) => {
    if (!e.target.classList.contains("browse")) return;
    target = e.target.closest("tr").querySelector("[name=path]");
    dialog.showModal();
    show(target.value || null);
  });
  list.addEventListener("click", (e) => {
    if (e.target.dataset.path) show(e.target.dataset.path);
  });
  up.addEventListener("click", () => show(listing.parent));
  choose.addEventListener("click", () => {
    target.value = listing.path;
    dialog.close();
  });
  document.getElementById("picker-cancel").addEventListener("click", () => dialog.close());
})();
