"""Workflows in Chromium: define one in the form, watch a failed middle block its child while
the finally task still runs, without reloading.

The app runs its own worker thread, so the tasks really run; polls are fast (0.3 s). Every
wait is a Playwright ``expect``, never a sleep.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from webapp import orchestration

POLL = 0.3


def definition(release) -> dict:
    """``build`` runs until the test creates ``release`` (at most 60 s), then fails: the page
    shows it running however slow the machine is."""
    wait = f"for i in $(seq 1200); do [ -e {release} ] && break; sleep 0.05; done"
    return {
        "title": "release",
        "tasks": [
            {"key": "prepare", "payload": "echo ready"},
            {"key": "build", "payload": f"{wait}; echo broken >&2; exit 3", "after": ["prepare"]},
            {"key": "deploy", "payload": "echo never", "after": ["build"]},
            {"key": "cleanup", "payload": "echo tidy", "after": ["deploy"], "finally": True},
        ],
    }


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WORKER_ENABLED": True, "WORKER_POLL_INTERVAL": 0.05,
            "POLL_INTERVAL": POLL}  # fmt: skip


@pytest.fixture
def served(app, live_server, users, bound):
    orchestration.project_create("demo", name="Demo", shutdown_grace=2.0, actor="test")
    yield live_server
    worker = app.extensions.get("webapp.worker")
    if worker is not None:
        worker.stop(5.0)


def login(page: Page, base: str, role: str = "operator") -> None:
    page.goto(f"{base}/login")
    page.fill("#username", role)
    page.fill("#password", f"{role}-password-1")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Projects")


def member(page: Page, name: str):
    return page.locator("tr.member").filter(has=page.locator(f"td.name:text-is('{name}')"))


def test_a_failing_middle_shows_failed_then_blocked_and_the_finally_task_runs(
    served, page, tmp_path
):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, served)
    page.click("a:has-text('Demo')")
    page.click("nav.tabs a:has-text('Workflows')")
    page.click("a:has-text('New workflow')")
    release = tmp_path / "release"
    page.fill("#definition", json.dumps(definition(release), indent=2))
    page.click("button:has-text('Run workflow')")
    expect(page.locator("h1")).to_contain_text("release")
    page.evaluate("window.__same_page = true")
    build = member(page, "build").locator(".badge")
    expect(build).to_have_attribute("data-status", "running", timeout=30_000)
    release.touch()
    expect(build).to_have_attribute("data-status", "failed", timeout=30_000)
    deploy = member(page, "deploy")
    expect(deploy.locator(".badge")).to_have_attribute("data-status", "blocked")
    build_id = member(page, "build").get_attribute("data-task")
    expect(deploy.locator("td.blocked-by")).to_contain_text(f"{build_id} build (failed)")
    expect(member(page, "cleanup").locator(".badge")).to_have_attribute("data-status", "completed")
    live = page.locator("#graph-live")
    expect(live).to_have_attribute("data-status", "failed")
    expect(live).not_to_have_attribute("hx-trigger", re.compile(".*"))  # polling ended
    expect(page.locator("#graph-status .count[data-count=blocked]")).to_contain_text("1 blocked")
    assert page.evaluate("window.__same_page") is True  # all of it without a reload
    assert errors == []
    member(page, "build").locator("td.mono a").click()
    expect(page.locator("#task-status .badge")).to_have_attribute("data-status", "failed")
    expect(page.locator("#log-output")).to_contain_text("broken")
