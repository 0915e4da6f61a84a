// Small progressive enhancements; every page reads correctly without this file.
(function () {
  "use strict";

  // Keyboard shortcuts live in keys.js.

  // The account menu is inline on wide screens and a dropdown on narrow ones (app.css).
  const narrow = window.matchMedia("(max-width: 700px)");
  function foldMenus() {
    document.querySelectorAll("details[data-fold-narrow]").forEach(function (menu) {
      menu.open = !narrow.matches;
    });
  }
  foldMenus();
  narrow.addEventListener("change", foldMenus);
  document.addEventListener("click", function (event) {
    if (!narrow.matches) return;
    document.querySelectorAll("details[data-fold-narrow][open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });

  // A flash about a state still to come ("Stop requested") goes once the task has settled:
  // its status section says so with data-terminal (finished, cancelled, or deleted).
  function dropSettledFlashes() {
    if (document.querySelector("#task-status[data-terminal]")) {
      document.querySelectorAll(".flash-pending").forEach(function (el) { el.remove(); });
    }
  }
  dropSettledFlashes();  // it may have ended between the click and this page
  document.addEventListener("htmx:afterSettle", dropSettledFlashes);

  // Polling pauses while the tab is hidden and resumes when it is shown again.
  document.addEventListener("htmx:beforeRequest", function (event) {
    const trigger = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    if (document.hidden && event.detail.elt.hasAttribute("data-poll")) {
      event.preventDefault();
    }
    return trigger;
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      document.querySelectorAll("[data-poll]").forEach(function (el) {
        if (window.htmx) window.htmx.trigger(el, "poll-now");
      });
    }
  });
})();
