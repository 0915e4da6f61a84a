"""The task list stays live: new tasks and status changes arrive by polling, counters update
out of band, and ticked checkboxes survive the swaps."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from webapp import orchestration


@pytest.fixture
def app_config(app_config):
    return {**app_config, "POLL_INTERVAL": 0.3}  # no worker: the test changes states itself


@pytest.fixture
def served(live_server, users, bound):
    orchestration.project_create("demo", actor="test")
    return live_server


def login(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", "operator")
    page.fill("#password", "operator-password-1")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Projects")


def test_list_updates_in_place_and_keeps_the_selection(served, page):
    first = orchestration.task_new("demo", name="first", payload="true", actor="test").task_id
    login(page, served)
    page.goto(f"{served}/projects/demo")
    page.evaluate("window.__same_page = true")
    page.check(f"#select-{first}")
    expect(page.locator("#task-counts")).to_contain_text("1 queued")
    second = orchestration.task_new("demo", name="second", payload="true", actor="test").task_id
    expect(page.locator(f"#task-{second}")).to_be_visible()
    expect(page.locator("#task-counts")).to_contain_text("2 queued")
    orchestration.task_stop("demo", first, actor="test")
    expect(page.locator(f"#task-{first} .badge")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#task-counts")).to_contain_text("1 cancelled")
    expect(page.locator(f"#select-{first}")).to_be_checked()
    expect(page.locator("tr.task-row")).to_have_count(2)
    assert page.evaluate("window.__same_page") is True
