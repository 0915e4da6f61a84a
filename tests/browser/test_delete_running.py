"""Deleting a running task in Chromium: the page answers at once with a "deleting" badge,
then, without a reload, says the task is gone and links to its archived copy.

(Deleting a finished task, which lands on the archived page, is in test_dashboard.py.)
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from webapp import orchestration

GRACE = 120.0  # the task's TERM trap ends it when the test says so, long before this


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WORKER_ENABLED": True, "WORKER_POLL_INTERVAL": 0.05,
            "WORKER_HEARTBEAT_INTERVAL": 0.3, "POLL_INTERVAL": 0.3}  # fmt: skip


@pytest.fixture
def served(app, live_server, users, bound):
    orchestration.project_create("demo", shutdown_grace=GRACE, actor="test")
    yield live_server
    worker = app.extensions.get("webapp.worker")
    if worker is not None:
        worker.stop(5.0)


def test_delete_a_running_task_shows_deleting_then_its_archive(served, page: Page, tmp_path):
    # On SIGTERM the task waits for the test's release file: until then it is "deleting",
    # however fast the worker is, so the page is checked in that state, not raced against it.
    release = tmp_path / "release"
    script = f"trap 'until [ -e {release} ]; do sleep 0.05; done; exit 143' TERM; sleep 600 & wait"
    task = orchestration.task_new("demo", name="sleeper", payload=script, actor="test")
    page.goto(f"{served}/login")
    page.fill("#username", "admin")
    page.fill("#password", "admin-password-1")
    page.click("button[type=submit]")
    page.goto(f"{served}/projects/demo/tasks/{task.task_id}")
    badge = page.locator("#task-status .badge")
    expect(badge).to_have_attribute("data-status", "running", timeout=10_000)
    page.click("a:has-text('Delete…')")
    expect(page.locator(".confirm")).to_contain_text("deleting stops it")
    page.click(f"button:has-text('Delete task {task.task_id}')")
    # the answer is the task's own page, still live, not the archive: nothing waited
    expect(page.locator("#task-status .badge")).to_have_attribute("data-status", "deleting")
    expect(page.locator(".flash")).to_contain_text("is being deleted")
    page.evaluate("window.__same_page = true")
    release.touch()
    expect(page.locator("#task-status")).to_contain_text("no longer exists", timeout=10_000)
    assert page.evaluate("window.__same_page") is True
    page.click("#task-status a:has-text('Find it in the archive')")
    page.click(f"tr:has-text('{task.task_id}') a")
    expect(page.locator("h1")).to_contain_text("(archived)")
    expect(page.locator(".task-status .badge")).to_have_attribute("data-status", "cancelled")
