"""Refresh the README's screenshots (light and dark) from a realistic demo project.

Run from the repository root: ``.venv/bin/python tests/browser/readme_screenshots.py``.
It starts the app with its worker on a temporary data folder, runs a handful of real tasks
and a workflow, and photographs the task list at 1280 px in Chromium into ``.github/``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from webapp import create_app, orchestration
from webapp.accounts import users as accounts
from webapp.store.db import open_database

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".github"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PASSWORD = "screenshot-password-1"

TASKS = [  # name, command; run in this order, newest shown first
    ("install-deps", "echo 'Collecting flask'; echo 'Successfully installed 12 packages'"),
    ("unit-tests", "for i in 1 2 3; do echo \"test_$i ... ok\"; done; echo '3 passed'"),
    ("lint", "echo 'src/app.py:12:1: F401 unused import' >&2; exit 1"),
    ("build-docs", "echo 'Building HTML'; echo 'build succeeded, 42 pages'"),
    ("nightly-backup", "echo 'dumping database'; sleep 600"),
    ("deploy-staging", "echo 'rolling out 3 replicas'; sleep 600"),
]


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo tasks did not settle")
        time.sleep(0.05)  # deadline loop on the worker's progress


def populate() -> str:
    orchestration.project_create("website", name="Website", shutdown_grace=1.0, actor="alice")
    ids = {}
    for name, command in TASKS:
        ids[name] = orchestration.task_new(
            "website", name=name, payload=command, actor="alice").task_id  # fmt: skip
    orchestration.graph_new(
        "website",
        {"title": "release", "tasks": [
            {"key": "build", "payload": "echo built"},
            {"key": "test", "payload": "echo tested", "after": ["build"]},
            {"key": "publish", "payload": "echo published", "after": ["test"]},
        ]},
        actor="bob",
    )  # fmt: skip

    def status(name: str) -> str:
        return orchestration.get_task_meta("website", ids[name]).status

    wait_until(
        lambda: status("deploy-staging") == "running" and status("nightly-backup") == "running"
    )
    orchestration.task_stop("website", ids["nightly-backup"], actor="bob")
    wait_until(lambda: status("nightly-backup") not in ("queued", "running"))
    return ids["deploy-staging"]


def main() -> None:
    data = tempfile.mkdtemp(prefix="webapp-screens-")
    app = create_app({"DATA_DIR": data, "SECRET_KEY": "screens", "WORKER_ENABLED": True,
                      "WORKER_POLL_INTERVAL": 0.05, "CREATE_FIRST_ADMIN": False,
                      "PASSWORD_HASH_PROFILE": "CHEAPEST"})  # fmt: skip
    db = open_database(app.config["DATABASE"])
    accounts.create_user(db, "alice", PASSWORD, role="admin", actor="setup",
                         hasher=app.extensions["webapp.password_hasher"])  # fmt: skip
    db.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    running = None
    try:
        with orchestration.bind(orchestration.settings_of(app)):
            running = populate()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for scheme, name in (("light", "screenshot.png"), ("dark", "screenshot-dark.png")):
                page = browser.new_page(viewport={"width": 1280, "height": 640},
                                        color_scheme=scheme)  # fmt: skip
                page.goto(f"{base}/login")
                page.fill("#username", "alice")
                page.fill("#password", PASSWORD)
                page.click("button[type=submit]")
                page.goto(f"{base}/projects/website")
                expect(page.locator(f"#task-{running} [data-status=running]")).to_be_visible()
                page.screenshot(path=OUT / name)
                page.close()
            browser.close()
    finally:
        if running is not None:
            with orchestration.bind(orchestration.settings_of(app)):
                orchestration.task_stop("website", running, actor="alice")
        worker = app.extensions.get("webapp.worker")
        if worker is not None:
            worker.stop(5.0)
        server.shutdown()


if __name__ == "__main__":
    main()
