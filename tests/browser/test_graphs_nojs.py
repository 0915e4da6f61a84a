"""Without JavaScript a workflow reads as a table (members, what each runs after) and its
cancel button works as a plain form. No worker runs here, so the workflow stays queued."""

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


def test_a_workflow_reads_as_a_table_and_cancels_without_javascript(served, page: Page):
    tasks = [
        {"key": "f", "name": "fetch", "payload": "git pull"},
        {"key": "t", "name": "test", "payload": "make test", "after": ["f"]},
        {"key": "r", "name": "report", "payload": "make report", "after": ["t"], "finally": True},
    ]
    graph = orchestration.graph_new("demo", {"title": "nightly", "tasks": tasks}, actor="test")
    fetch, test, report = graph.members
    page.goto(f"{served}/login")
    page.fill("#username", "operator")
    page.fill("#password", "operator-password-1")
    page.click("button[type=submit]")
    page.click("a:has-text('demo')")
    page.click("nav.tabs a:has-text('Workflows')")
    row = page.locator(f"#graph-{graph.graph_id}")
    expect(row.locator(".badge")).to_have_attribute("data-status", "queued")
    expect(row).to_contain_text("3 queued")
    row.locator("a:has-text('nightly')").click()
    expect(page.locator("tr.member td.name")).to_have_text(["fetch", "test", "report"])
    expect(page.locator(f"#member-{test.task_id} td.after")).to_contain_text(fetch.task_id)
    expect(page.locator(f"#member-{report.task_id}")).to_contain_text("finally")
    page.click("button:has-text('Cancel workflow')")
    expect(page.locator(".flash")).to_contain_text("Workflow 'nightly' cancelled.")
    expect(page.locator("#graph-live")).to_have_attribute("data-status", "cancelled")
    badges = page.locator("tr.member .badge")
    expect(badges).to_have_count(3)
    for badge in badges.all():
        expect(badge).to_have_attribute("data-status", "cancelled")
    page.click(f"#member-{fetch.task_id} td.mono a")
    expect(page.locator("#task-status .badge")).to_have_attribute("data-status", "cancelled")
