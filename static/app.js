// Small progressive enhancements; every page reads correctly without this file.
(function () {
  "use strict";

  function typingInField(event) {
    const el = event.target;
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  // Keyboard: "/" focuses search, "n" opens the new-task form.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typingInField(event)) return;
    if (event.key === "/") {
      const search = document.querySelector("[data-search]");
      if (search) { event.preventDefault(); search.focus(); }
    } else if (event.key === "n") {
      const link = document.querySelector("[data-new-task]");
      if (link) { event.preventDefault(); window.location.assign(link.href); }
    }
  });

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
