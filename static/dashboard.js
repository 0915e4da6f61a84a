// Task list and task page niceties: live durations, bulk selection, filter autosubmit.
// Everything here is optional; forms and links work without it.
(function () {
  "use strict";

  function formatDuration(seconds) {
    if (seconds < 1) return Math.round(seconds * 1000) + "ms";
    if (seconds < 60) return seconds.toFixed(1) + "s";
    const whole = Math.floor(seconds);
    if (whole < 3600) {
      return Math.floor(whole / 60) + "m " + String(whole % 60).padStart(2, "0") + "s";
    }
    return Math.floor(whole / 3600) + "h " + String(Math.floor(whole % 3600 / 60)).padStart(2, "0") + "m";
  }

  // Durations of running tasks count up every second.
  function tick() {
    const now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      const since = Date.parse(el.dataset.since);
      if (!Number.isNaN(since)) el.textContent = formatDuration(Math.max(0, now - since) / 1000);
    });
  }
  setInterval(tick, 1000);

  // Bulk selection: a live count and a select-all box.
  function selectionChanged() {
    const boxes = document.querySelectorAll("input[type=checkbox][form=bulk][name=task]");
    const chosen = Array.prototype.filter.call(boxes, function (b) { return b.checked; });
    const label = document.querySelector("[data-selected-count]");
    if (label) {
      label.textContent = chosen.length
        ? chosen.length + " selected: " + chosen.map(function (b) { return b.value; }).join(", ")
        : "Select tasks for bulk actions";
    }
    const all = document.querySelector("[data-select-all]");
    if (all) {
      all.checked = boxes.length > 0 && chosen.length === boxes.length;
      all.indeterminate = chosen.length > 0 && chosen.length < boxes.length;
    }
  }
  document.addEventListener("change", function (event) {
    const el = event.target;
    if (el.matches("[data-select-all]")) {
      document.querySelectorAll("input[type=checkbox][form=bulk][name=task]").forEach(
        function (b) { b.checked = el.checked; });
      selectionChanged();
    } else if (el.matches("input[type=checkbox][form=bulk]")) {
      selectionChanged();
    } else if (el.matches("select[data-autosubmit]") && el.form) {
      el.form.requestSubmit();
    }
  });
  document.addEventListener("htmx:afterSwap", selectionChanged);
})();
