"""The log viewer in Chromium: earlier windows load in place, and the view follows the end
of a running log only while the reader has not scrolled up."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from webapp import orchestration

BIG_LOG = "seq 1 8000 | awk '{printf \"line %05d %060d\\n\", $1, 0}'"  # ~600 KB
TICKER = "for i in $(seq 1 600); do echo tick $i; sleep 0.02; done"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WORKER_ENABLED": True, "WORKER_POLL_INTERVAL": 0.05,
            "POLL_INTERVAL": 0.3}  # fmt: skip


@pytest.fixture
def served(app, live_server, users, bound):
    orchestration.project_create("demo", actor="test")
    yield live_server
    worker = app.extensions.get("webapp.worker")
    if worker is not None:
        worker.stop(5.0)


def login(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", "operator")
    page.fill("#password", "operator-password-1")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Projects")


def wait_until(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)  # deadline loop on server-side state
    return value


def test_load_earlier_prepends_windows_until_the_start(served, page):
    task = orchestration.task_new("demo", name="big", payload=BIG_LOG, actor="test")
    wait_until(lambda: orchestration.get_task_meta("demo", task.task_id).is_terminal)
    login(page, served)
    page.goto(f"{served}/projects/demo/tasks/{task.task_id}")
    log = page.locator("#log-output")
    expect(log).to_contain_text("line 08000")
    assert "line 00001 " not in log.inner_text()
    earlier = page.locator("[data-log-earlier]")
    viewer = page.locator("[data-log-viewer]")
    first_window = viewer.get_attribute("data-offset")
    earlier.click()
    expect(viewer).not_to_have_attribute("data-offset", first_window)  # that window is in
    expect(earlier).to_contain_text("KB before this")
    earlier.click()
    expect(page.locator("[data-log-earlier]")).to_have_count(0)
    text = log.inner_text()
    assert text.startswith("line 00001 ")
    numbers = [int(line.split()[1]) for line in text.splitlines() if line.startswith("line ")]
    assert numbers == list(range(1, 8001))  # whole, in order, nothing twice


def test_log_follows_the_end_unless_scrolled_up(served, page):
    task = orchestration.task_new("demo", name="ticker", payload=TICKER, actor="test")
    login(page, served)
    page.goto(f"{served}/projects/demo/tasks/{task.task_id}")
    log = page.locator("#log-output")
    expect(log).to_contain_text("tick 40")
    at_end = "e => e.scrollHeight - e.scrollTop - e.clientHeight <= 24"
    assert log.evaluate("e => e.scrollHeight > e.clientHeight"), "log should overflow by now"
    page.wait_for_function(
        f"() => ({at_end})(document.querySelector('#log-output'))"
    )  # following the end
    log.evaluate("e => { e.scrollTop = 0; e.dispatchEvent(new Event('scroll')); }")
    follow = page.locator("[data-log-follow]")
    expect(follow).to_be_visible()
    expect(log).to_contain_text("tick 90")  # more output arrived ...
    assert log.evaluate("e => e.scrollTop") == 0  # ... and the reader's place was kept
    follow.click()
    expect(follow).to_be_hidden()
    expect(log).to_contain_text("tick 120")
    page.wait_for_function(f"() => ({at_end})(document.querySelector('#log-output'))")
    orchestration.task_stop("demo", task.task_id, actor="test")


def test_a_double_click_on_load_earlier_loads_each_window_once(served, page):
    task = orchestration.task_new("demo", name="big", payload=BIG_LOG, actor="test")
    wait_until(lambda: orchestration.get_task_meta("demo", task.task_id).is_terminal)
    login(page, served)
    page.goto(f"{served}/projects/demo/tasks/{task.task_id}")
    log = page.locator("#log-output")
    expect(log).to_contain_text("line 08000")
    viewer = page.locator("[data-log-viewer]")
    first_window = viewer.get_attribute("data-offset")
    page.locator("[data-log-earlier]").dblclick()
    expect(viewer).not_to_have_attribute("data-offset", first_window)
    page.locator("[data-log-earlier]").click()
    expect(page.locator("[data-log-earlier]")).to_have_count(0)
    numbers = [
        int(line.split()[1]) for line in log.inner_text().splitlines() if line[:5] == "line "
    ]
    assert numbers == list(range(1, 8001))  # the second click of the pair loaded nothing twice
