// The History page: the Restore button of an entry whose original is still in the recycle folder puts that
// original back under its name (the cleanup service does it, and refuses when the file changed since).
(function () {
  "use strict";
  const lib = window.librarrarian;
  const table = document.getElementById("history");
  const message = document.getElementById("recycle-message");
  if (!table) return;

  function say(text, failed) {
    message.textContent = text;
    message.classList.toggle("error", Boolean(failed));
    message.hidden = false;
  }

  table.addEventListener("click", async (event) => {
    const restore = event.target.closest("button[data-action='restore']");
    if (!restore) return;
    restore.disabled = true;
    try {
      const done = await lib.call("POST", "/api/v1/recycle/" + restore.dataset.job + "/restore");
      restore.replaceWith(lib.el("span", "restored", "Restored"));
      say("Restored " + done.path + ".");
    } catch (error) {
      restore.disabled = false;
      say("Not restored: " + error.message, true);
    }
  });
})();
