// The live log viewer: appends new output by byte offset, follows the end unless the reader
// scrolled up, and loads earlier windows in place. Without this file the page still shows
// the last 256 KB and links to every other window.
(function () {
  "use strict";

  const FOLLOW_SLACK_PX = 24;

  function formatSize(bytes) {  // as the server's filesize filter writes it
    let value = bytes;
    const units = ["B", "KB", "MB", "GB"];
    for (let i = 0; i < units.length; i++) {
      if (value < 1024 || i === units.length - 1) {
        return i === 0 ? Math.round(value) + " B" : value.toFixed(1) + " " + units[i];
      }
      value /= 1024;
    }
    return "";
  }

  function withParam(url, name, value) {
    const u = new URL(url, window.location.href);
    u.searchParams.set(name, value);
    return u.toString();
  }

  function setup(viewer) {
    const out = viewer.querySelector("[data-log-output]");
    const followButton = viewer.querySelector("[data-log-follow]");
    const state = viewer.querySelector("[data-log-state]");
    const sizeLabel = viewer.querySelector("[data-log-size]");
    const pollUrl = viewer.dataset.pollUrl;
    const windowUrl = viewer.dataset.windowUrl;
    const query = viewer.dataset.query || "";
    const pollMs = Number(viewer.dataset.pollMs) || 2000;
    let nextOffset = Number(viewer.dataset.nextOffset) || 0;
    let firstOffset = Number(viewer.dataset.offset) || 0;
    let following = !query && !window.location.hash.startsWith("#line");
    let timer = null;
    let busy = false;

    function atEnd() {
      return out.scrollHeight - out.scrollTop - out.clientHeight <= FOLLOW_SLACK_PX;
    }
    function toEnd() {
      out.scrollTop = out.scrollHeight;
    }
    function showFollow() {
      if (followButton) followButton.hidden = following || !pollUrl;
    }

    out.addEventListener("scroll", function () {
      following = atEnd();
      showFollow();
    });
    if (followButton) {
      followButton.addEventListener("click", function () {
        following = true;
        toEnd();
        showFollow();
      });
    }
    if (following) toEnd();

    function fetchWindow(url) {
      return fetch(url, { headers: { "X-Log-Fragment": "1" }, cache: "no-store",
                          credentials: "same-origin" });
    }

    function showSize(header) {
      if (header === null || !sizeLabel) return;
      viewer.dataset.size = header;
      sizeLabel.textContent = formatSize(Number(header));
    }

    function finish(text) {
      viewer.dataset.done = "1";
      clearTimeout(timer);
      if (state) state.textContent = text;
      if (followButton) followButton.hidden = true;
    }

    function gone() {  // its log moved to the archive: nothing here can be fetched any more
      viewer.dataset.gone = "1";
      finish("this task was deleted; its log is in the archive");
      const download = viewer.querySelector("[data-log-download]");
      if (download) download.hidden = true;
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(poll, pollMs);
    }

    function poll() {
      if (!pollUrl || viewer.dataset.done === "1") return;
      if (document.hidden || busy) { schedule(); return; }
      busy = true;
      let url = withParam(pollUrl, "offset", nextOffset);
      if (query) url = withParam(url, "q", query);
      fetchWindow(url).then(function (response) {
        const next = response.headers.get("X-Log-Next-Offset");
        const done = response.headers.get("X-Log-Done") === "1";
        if (response.status === 404) return "gone";
        showSize(response.headers.get("X-Log-Size"));
        if (response.status === 200) {
          return response.text().then(function (html) {
            const stick = following;
            out.insertAdjacentHTML("beforeend", html);
            if (next !== null) nextOffset = Number(next);
            viewer.dataset.nextOffset = String(nextOffset);
            if (stick) toEnd();
            return done;
          });
        }
        if (!response.ok && response.status !== 204) {
          throw new Error("log poll answered " + response.status);
        }
        if (next !== null) nextOffset = Number(next);
        return done;
      }).then(function (done) {
        busy = false;
        if (done === "gone") gone();
        else if (done) finish("the run is over; this is all of its output");
        else schedule();
      }).catch(function () {
        busy = false;
        schedule();  // a network blip: try again at the next interval
      });
    }

    const earlier = viewer.querySelector("[data-log-earlier]");
    let loadingEarlier = false;  // a second click while a window loads would load it twice
    if (earlier) {
      earlier.addEventListener("click", function (event) {
        event.preventDefault();
        if (loadingEarlier) return;
        loadingEarlier = true;
        let url = withParam(windowUrl, "end", firstOffset);
        if (query) url = withParam(url, "q", query);
        fetchWindow(url).then(function (response) {
          if (response.status !== 200 && response.status !== 204) {
            throw new Error("earlier window answered " + response.status);
          }
          const start = Number(response.headers.get("X-Log-Offset") || "0");
          return (response.status === 200 ? response.text() : Promise.resolve("")).then(
            function (html) {
              const before = out.scrollHeight;
              out.insertAdjacentHTML("afterbegin", html);
              out.scrollTop += out.scrollHeight - before;  // keep the reader's place
              firstOffset = start;
              viewer.dataset.offset = String(start);
              if (start <= 0) earlier.parentElement.remove();
              else earlier.textContent = "Load earlier output (" + Math.ceil(start / 1024) +
                " KB before this)";
              loadingEarlier = false;
            });
        }).catch(function () {
          window.location.assign(earlier.href);  // fall back to the plain window page
        });
      });
    }

    // The status poll found the task deleted (from another tab or user): stop asking.
    document.addEventListener("task-gone", function () {
      if (viewer.dataset.gone !== "1") gone();
    });

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && pollUrl && viewer.dataset.done !== "1") poll();
    });
    if (pollUrl) schedule();
  }

  function init() {
    document.querySelectorAll("[data-log-viewer]").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
