"""The schedule form in Chromium: the next five runs appear as you type a cron line, an
invalid field is named before saving, and the saved schedule lists the same five runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from webapp import orchestration


@pytest.fixture
def served(live_server, users, bound):
    orchestration.project_create("demo", name="Demo", actor="test")
    return live_server


def sign_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", "operator")
    page.fill("#password", "operator-password-1")
    page.click("button[type=submit]")
    expect(page.locator("#username")).to_have_count(0)


def test_the_next_five_runs_follow_what_is_typed(served, page: Page):
    sign_in(page, served)
    page.goto(f"{served}/projects/demo/schedules")
    page.get_by_text("New schedule").click()
    page.fill("#s-name", "nightly-build")
    page.fill("#s-tz", "UTC")
    page.fill("#s-cron", "30 4 * * *")
    runs = page.locator("#schedule-preview .next-runs li")
    expect(runs).to_have_count(5)
    expect(runs.first).to_contain_text("04:30 UTC")
    page.fill("#s-cron", "61 * * * *")
    error = page.locator("#schedule-preview [data-preview-error=cron]")
    expect(error).to_contain_text("The minute field '61' is not valid")
    expect(runs).to_have_count(0)
    page.fill("#s-cron", "*/15 * * * *")
    expect(runs).to_have_count(5)
    page.fill("#s-payload", "echo nightly")
    page.get_by_role("button", name="Save schedule").click()
    expect(page.locator("h1")).to_have_text("nightly-build")
    expect(page.locator("#schedule-next-runs li")).to_have_count(5)
