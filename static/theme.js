// Light, dark or the system's choice (the default), remembered in this browser. Loaded in
// <head> without defer so the chosen theme is there before the first paint.
(function () {
  "use strict";
  const KEY = "webapp-theme";
  const ORDER = ["auto", "light", "dark"];
  const root = document.documentElement;

  function stored() {
    try { return localStorage.getItem(KEY) || "auto"; } catch (e) { return "auto"; }
  }
  function apply(theme) {
    root.classList.toggle("theme-light", theme === "light");
    root.classList.toggle("theme-dark", theme === "dark");
    root.dataset.theme = theme;
  }
  function label(button, theme) {
    const words = { auto: "Theme: system", light: "Theme: light", dark: "Theme: dark" };
    button.setAttribute("aria-label", words[theme]);
    button.title = words[theme] + " (click to change)";
    const text = button.querySelector(".theme-label");
    if (text) text.textContent = words[theme];
    button.querySelectorAll("[data-theme-icon]").forEach(function (icon) {
      icon.hidden = icon.dataset.themeIcon !== theme;
    });
  }

  apply(stored());
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      label(button, stored());
      button.hidden = false;
      button.addEventListener("click", function () {
        const next = ORDER[(ORDER.indexOf(stored()) + 1) % ORDER.length];
        try { localStorage.setItem(KEY, next); } catch (e) { /* private mode: this page only */ }
        apply(next);
        label(button, next);
      });
    });
  });
})();
