// The colour theme. The server renders <html class="theme-…"> from the "theme" cookie, so a page never
// flashes the other palette; this keeps the cookie and localStorage in step (localStorage wins when the
// cookie was cleared) and gives the Options page window.librarrarianTheme(name) to switch at once.
(function () {
  "use strict";
  const THEMES = ["system", "light", "dark"];
  const root = document.documentElement;

  function apply(theme) {
    if (!THEMES.includes(theme)) theme = "system";
    for (const t of THEMES) root.classList.toggle("theme-" + t, t === theme);
    try { localStorage.setItem("theme", theme); } catch (e) { /* storage disabled: the cookie still works */ }
    document.cookie = "theme=" + theme + "; path=/; max-age=31536000; samesite=lax";
  }

  let stored = null;
  try { stored = localStorage.getItem("theme"); } catch (e) { /* storage disabled */ }
  const rendered = THEMES.find((t) => root.classList.contains("theme-" + t));
  if (stored && stored !== rendered) apply(stored);
  window.librarrarianTheme = apply;
})();
