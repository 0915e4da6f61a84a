"""Browser fixtures: Debian's Chromium when present, live servers on 127.0.0.1 only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium where it is installed, else the browser Playwright manages."""
    args = {**browser_type_launch_args, "args": CHROMIUM_ARGS}
    if SYSTEM_CHROMIUM.exists():
        args["executable_path"] = str(SYSTEM_CHROMIUM)
    return args


@pytest.fixture(scope="session")
def base_url():
    """Defined here because the plugin's fallback warns under pytest 9."""
    return None


@pytest.fixture
def live_server(app):
    """The test's app served by a threaded Werkzeug server on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # deadline loop: the port is not open yet
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {deadline_s} s")


@pytest.fixture
def served_app(tmp_path):
    """``webapp serve`` exactly as the README starts it: gunicorn in a subprocess."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "WEBAPP_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "webapp.cli", "serve", "--port", str(port), "--workers", "1"]
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for_port(port, process)
        except (RuntimeError, TimeoutError) as error:
            raise AssertionError(f"{error}\n--- server output ---\n{log.read_text()}") from None
        yield {"url": f"http://127.0.0.1:{port}", "log": log, "process": process}
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


WIDTHS = (1280, 390)  # a desktop window and a phone held upright


def assert_no_sideways_scroll(page) -> None:
    """The page fits its window: nothing scrolls horizontally (tables scroll in their box)."""
    page.wait_for_load_state("load")
    sizes = page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,"
        " url: location.pathname, wide: Array.from(document.querySelectorAll('body *'))"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".filter(e => !e.closest('.table-wrap, .log, pre, .graph-scroll'))"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)})"
    )
    assert sizes["scroll"] <= sizes["inner"], f"{sizes['url']} scrolls sideways: {sizes}"


@pytest.fixture
def fits():
    """``fits(page)`` asserts the page does not scroll horizontally at its current width."""
    return assert_no_sideways_scroll


SIDEWAYS_WATCH = """
(() => {
  function check() {
    const root = document.documentElement;
    if (root && root.scrollWidth > window.innerWidth) {
      window.__reportSideways(location.pathname + " at " + window.innerWidth + " px: " +
        root.scrollWidth + " px wide");
    }
  }
  window.addEventListener("load", check);
  document.addEventListener("htmx:afterSettle", check);
})();
"""


@pytest.fixture(autouse=True)
def no_page_scrolls_sideways(request):
    """Every page any browser test visits is checked on load and after each htmx swap."""
    if "page" not in request.fixturenames:
        yield
        return
    page = request.getfixturevalue("page")
    seen: list[str] = []
    page.context.expose_binding("__reportSideways", lambda _source, where: seen.append(where))
    page.context.add_init_script(SIDEWAYS_WATCH)
    yield
    assert seen == [], f"pages scrolled sideways: {sorted(set(seen))}"
