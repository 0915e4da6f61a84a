// Keyboard shortcuts; "?" lists them. Plain keys only, never while typing in a field.
//   /  search      n  new task      j / k  next / previous row      Enter  open the row
//   s  stop        r  retry (on a task page)
(function () {
  "use strict";

  function typingInField(event) {
    const el = event.target;
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function rows() {
    return Array.prototype.filter.call(
      document.querySelectorAll("main table tbody tr"),
      function (row) { return row.querySelector("a[href]") && row.offsetParent !== null; });
  }

  let chosen = null;  // the chosen row's link: the row survives the list's live updates

  function linkOf(row) {
    return row.querySelector("a[href]").getAttribute("href");
  }

  function choose(row, focus) {
    document.querySelectorAll("tr.kbd-current").forEach(function (r) {
      r.classList.remove("kbd-current");
    });
    row.classList.add("kbd-current");
    row.tabIndex = -1;
    chosen = linkOf(row);
    if (focus) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  document.addEventListener("htmx:afterSettle", function () {
    if (!chosen) return;
    const hadFocus = document.activeElement === document.body;
    const row = rows().find(function (r) { return linkOf(r) === chosen; });
    if (row) choose(row, hadFocus);
  });

  function move(step) {
    const all = rows();
    if (!all.length) return false;
    const current = document.querySelector("tr.kbd-current");
    let index = all.indexOf(current);
    index = index < 0 ? (step > 0 ? 0 : all.length - 1)
                      : Math.min(all.length - 1, Math.max(0, index + step));
    choose(all[index], true);
    return true;
  }

  function click(selector) {
    const el = document.querySelector(selector);
    if (!el || el.disabled) return false;
    el.click();
    return true;
  }

  function follow(selector) {
    const link = document.querySelector(selector);
    if (!link) return false;
    window.location.assign(link.href);
    return true;
  }

  function help() {
    const dialog = document.getElementById("keyboard-help");
    if (!dialog || dialog.open) return false;
    dialog.showModal();
    return true;
  }

  const ACTIONS = {
    "?": help,
    "/": function () {
      const search = document.querySelector("[data-search]") ||
        document.querySelector("main input[type=search]");
      if (!search) return false;
      search.focus();
      return true;
    },
    n: function () { return follow("[data-new-task]"); },
    j: function () { return move(1); },
    k: function () { return move(-1); },
    s: function () { return click("[data-action=stop]"); },
    r: function () { return click("[data-action=retry]"); },
  };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typingInField(event)) return;
    if (document.querySelector("dialog[open]")) return;  // the dialog handles its own keys
    if (event.key === "Enter") {
      const active = document.activeElement;
      const row = active && active.matches("tr.kbd-current") ? active
        : (active === document.body ? document.querySelector("tr.kbd-current") : null);
      if (row) {
        event.preventDefault();
        window.location.assign(row.querySelector("a[href]").href);
      }
      return;
    }
    const action = ACTIONS[event.key];
    if (action && action()) event.preventDefault();
  });
})();
