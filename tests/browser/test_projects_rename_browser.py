"""In Chromium: the rename preview follows typing; a project is edited and deleted by an admin."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from webapp import orchestration


def login(page: Page, base: str, role: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", role)
    page.fill("#password", f"{role}-password-1")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Projects")


def test_rename_shows_the_sanitised_name_while_typing(live_server, users, demo_task, page):
    login(page, live_server, "operator")
    page.goto(f"{live_server}/projects/demo/tasks/{demo_task.task_id}")
    page.click("#task-name a:has-text('Rename')")
    field = page.locator("#rename-input")
    field.fill("")
    field.press_sequentially("a b/c")
    preview = page.locator("#rename-preview")
    expect(preview).to_contain_text("Will be saved as a-bc")
    expect(preview).to_contain_text("spaces became hyphens")
    assert orchestration.get_task_meta("demo", demo_task.task_id).name == "first"  # not yet
    field.fill("")
    field.press_sequentially("///")
    expect(preview).to_contain_text("Cannot be saved: name must contain at least one letter")
    field.fill("")
    field.press_sequentially("a b/c")
    expect(preview).to_contain_text("a-bc")
    page.click("#task-name button:has-text('Save')")
    expect(page.locator("#task-name h1")).to_have_text("a-bc")


def test_an_admin_edits_then_deletes_a_project_naming_the_tasks_archived(
    live_server, users, demo_task, page
):
    orchestration.task_stop("demo", demo_task.task_id, actor="test")
    login(page, live_server, "admin")
    page.goto(f"{live_server}/projects/demo")
    page.click("nav.tabs a:has-text('Settings')")
    page.fill("#shutdown_grace", "5")
    page.click("button:has-text('Save settings')")
    expect(page.locator(".flash")).to_contain_text("Settings of demo saved")
    assert orchestration.project_get("demo").shutdown_grace == 5.0
    page.click("a:has-text('Delete project')")
    expect(page.locator("[data-archive-count]")).to_contain_text("archives 1 task")
    page.click("button:has-text('Delete demo and archive 1 task')")
    expect(page).to_have_url(re.compile(r"/projects$"))
    expect(page.locator(".flash").first).to_contain_text("Project demo deleted; 1 task(s) archived")
    assert orchestration.project_list() == []
