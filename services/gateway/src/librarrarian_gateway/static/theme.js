// The colour theme. The server renders <html class="theme-…"> from the "ui" setting (one theme for every
// browser), so a page never flashes the other palette; window.librarrarianTheme(name) switches the page at
// once (the Options page calls it while it saves the setting through the API).
(function () {
  "use strict";
  const THEMES = ["system", "light", "dark"];
  const root = document.documentElement;

  function apply(theme) {
    if (!THEMES.includes(theme)) theme = "system";
    for (const t of THEMES) root.classList.toggle("theme-" + t, t === theme);
  }

  // The theme used to be kept per browser; what is left of that would only confuse.
  document.cookie = "theme=; path=/; max-age=0; samesite=lax";
  try { localStorage.removeItem("theme"); } catch (e) { /* storage disabled */ }
  window.librarrarianTheme = apply;
})();
