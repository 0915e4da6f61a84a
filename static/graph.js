// Workflow picture: pan (drag), zoom (wheel, +/-) and fit, by changing the SVG's viewBox.
// The view survives the page's polls, which redraw the picture with new statuses.
// Optional: without it the picture is shown whole (fit to its box) and nodes are links.
(function () {
  "use strict";
  let view = null; // [x, y, w, h] chosen by the user; null means "fit"

  function svg() { return document.querySelector("#graph-picture svg"); }
  function full(el) { return el.dataset.full.split(" ").map(Number); }
  function apply(el) { el.setAttribute("viewBox", (view || full(el)).join(" ")); }

  function zoom(factor, cx, cy) {
    const el = svg();
    if (!el) return;
    const [x, y, w, h] = view || full(el);
    const nw = w * factor, nh = h * factor;
    const px = cx === undefined ? 0.5 : cx, py = cy === undefined ? 0.5 : cy;
    view = [x + (w - nw) * px, y + (h - nh) * py, nw, nh];
    apply(el);
  }

  function setup() {
    const el = svg();
    if (!el || el.dataset.ready) return;
    el.dataset.ready = "1";
    const tools = document.querySelector("[data-picture-tools]");
    if (tools) tools.hidden = false;
    apply(el);
    el.addEventListener("wheel", function (event) {
      if (!event.ctrlKey && !event.metaKey && !event.altKey) return; // plain wheel scrolls the page
      event.preventDefault();
      const box = el.getBoundingClientRect();
      zoom(event.deltaY > 0 ? 1.2 : 1 / 1.2,
        (event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height);
    }, { passive: false });
    let drag = null;
    el.addEventListener("pointerdown", function (event) {
      if (event.target.closest("a")) return;
      drag = { x: event.clientX, y: event.clientY, start: (view || full(el)).slice() };
      el.setPointerCapture(event.pointerId);
    });
    el.addEventListener("pointermove", function (event) {
      if (!drag) return;
      const box = el.getBoundingClientRect();
      const scale = drag.start[2] / box.width;
      view = [drag.start[0] - (event.clientX - drag.x) * scale,
        drag.start[1] - (event.clientY - drag.y) * scale, drag.start[2], drag.start[3]];
      apply(el);
    });
    el.addEventListener("pointerup", function () { drag = null; });
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-zoom]");
    if (!button) return;
    const how = button.dataset.zoom;
    if (how === "fit") { view = null; const el = svg(); if (el) apply(el); }
    else zoom(how === "in" ? 1 / 1.25 : 1.25);
  });
  document.addEventListener("DOMContentLoaded", setup);
  document.addEventListener("htmx:afterSwap", setup);
})();
