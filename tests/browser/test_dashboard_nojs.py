"""Without JavaScript every page still reads and every action still works (plain forms and
links, 303 redirects)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from webapp import orchestration


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "java_script_enabled": False}


@pytest.fixture
def served(live_server, users, bound):
    orchestration.project_create("demo", actor="test")
    return live_server


def test_create_rename_and_bulk_retry_without_javascript(served, page: Page):
    page.goto(f"{served}/login")
    page.fill("#username", "operator")
    page.fill("#password", "operator-password-1")
    page.click("button[type=submit]")
    page.click("a:has-text('demo')")
    page.click("a[data-new-task]")
    page.fill("#payload", "echo without js")
    page.fill("#name", "plain")
    page.click("button:has-text('Run task')")
    expect(page.locator("#task-name h1")).to_have_text("plain")
    expect(page.locator("#task-status .badge")).to_have_attribute("data-status", "queued")
    page.click("#task-name a:has-text('Rename')")  # a page of its own without htmx
    page.fill("#rename-input", "renamed plainly")
    page.click("button:has-text('Save')")
    expect(page.locator("#task-name h1")).to_have_text("renamed-plainly")
    page.click("button:has-text('Stop')")
    expect(page.locator("#task-status .badge")).to_have_attribute("data-status", "cancelled")
    page.click("nav.crumbs a:has-text('demo')")
    page.check("input[name=task]")
    page.click("button:has-text('Retry selected')")
    expect(page.locator("tr.task-row .badge")).to_have_attribute("data-status", "queued")
    expect(page.locator(".flash")).to_contain_text("Queued again 1 task")
