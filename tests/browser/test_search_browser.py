"""Search in Chromium: a line of an archived 50 MB log is found, and its link opens the log
at that line, scrolled into view and highlighted."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from webapp import orchestration
from webapp.orchestration import search

# 443,000 lines of 113 bytes (~50 MB, under the 50 MiB cap) with one line to find
BIG = (
    'awk \'BEGIN { for (i = 1; i <= 443000; i++) { printf "row %07d %0100d\\n", i, 0; '
    'if (i == 300000) print "the golden needle line" } }\''
)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WORKER_ENABLED": True, "WORKER_POLL_INTERVAL": 0.05}


@pytest.fixture
def served(app, live_server, users, bound):
    orchestration.project_create("demo", actor="test")
    yield live_server
    worker = app.extensions.get("webapp.worker")
    if worker is not None:
        worker.stop(5.0)


def wait_until(condition, timeout: float = 180.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)  # deadline loop on server-side state (the background indexer)
    return value


def test_search_finds_a_line_of_an_archived_50mb_log_and_opens_it_there(served, page: Page):
    # ~40 s: the task writes 50 MB, the delete archives it, the worker's indexer indexes it
    task = orchestration.task_new("demo", name="huge", payload=BIG, actor="test")
    wait_until(lambda: orchestration.get_task_meta("demo", task.task_id).is_terminal)
    assert orchestration.get_task_meta("demo", task.task_id).status == "completed"
    archive_dir = orchestration.task_delete("demo", task.task_id, actor="test").archive_dir
    log_path = archive_dir / "logs" / "task.log"
    assert log_path.stat().st_size > 50_000_000
    wait_until(lambda: search.search_logs("golden needle", project_id="demo"))

    page.goto(f"{served}/login")
    page.fill("#username", "operator")
    page.fill("#password", "operator-password-1")
    page.click("button[type=submit]")
    page.goto(f"{served}/projects/demo")
    page.click("nav.tabs >> text=Search")
    page.fill("input[name=q]", "golden needle")
    page.press("input[name=q]", "Enter")
    link = page.locator("[data-line-link]")
    expect(link).to_have_count(1)
    expect(link).to_contain_text(f"{task.task_id} (archived) run 1 · line 300001")
    expect(page.locator("[data-hit] code")).to_contain_text("the golden needle line")
    link.click()
    expect(page).to_have_url(re.compile(r"/log\?.*line=300001.*#L300001$"))
    target = page.locator("#L300001")
    expect(target).to_have_text("the golden needle line\n")
    expect(target).to_be_in_viewport()
    expect(target).to_have_class("log-line-target")
    background = target.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent"), background
