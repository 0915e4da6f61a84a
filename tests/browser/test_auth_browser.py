"""In a real browser: sign in, run a task, sign out, and "back" shows no task data.

CSRF protection is on (the test app's default), so the forms and htmx requests here carry
their tokens exactly as in production. A worker runs in the test process so the task really
runs; the page follows it by polling.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from webapp import orchestration

SECRET_OUTPUT = "only-for-signed-in-eyes-42"


@pytest.fixture
def app_config(app_config):
    """Fast polling so the task page turns "completed" soon after the task ends."""
    return {**app_config, "POLL_INTERVAL": 0.3, "WORKER_POLL_INTERVAL": 0.1}


@pytest.fixture
def worker(app, bound):
    from webapp.worker import Worker

    orchestration.project_create("demo", actor="test")
    runner = Worker(orchestration.settings_of(app), threads=1, name="browser").start()
    yield runner
    runner.stop(5.0)


def sign_in(page, username: str, password: str) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button:has-text('Sign in')")


def test_sign_in_run_a_task_sign_out_and_back_shows_nothing(live_server, page, users, worker):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server}/projects/demo/tasks/new")
    expect(page).to_have_url(re.compile(r"/login\?next=/projects/demo/tasks/new$"))
    sign_in(page, "operator", "operator-password-1")
    expect(page).to_have_url(f"{live_server}/projects/demo/tasks/new")

    page.fill("#payload", f"echo {SECRET_OUTPUT}")
    page.click("button:has-text('Run task')")
    expect(page.locator("[data-status]").first).to_have_attribute(
        "data-status", "completed", timeout=15_000
    )
    expect(page.locator("body")).to_contain_text(SECRET_OUTPUT)
    task_url = page.url

    page.click("[data-logout]")
    expect(page).to_have_url(f"{live_server}/login")
    page.go_back()
    expect(page.locator("#username")).to_be_visible()
    assert page.url.startswith(f"{live_server}/login?next=")
    expect(page.locator("body")).not_to_contain_text(SECRET_OUTPUT)
    page.goto(task_url)
    expect(page.locator("#username")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(SECRET_OUTPUT)
    assert errors == []


def test_wrong_password_page_says_so_and_lets_the_user_retry(live_server, page, users):
    page.goto(f"{live_server}/")
    sign_in(page, "viewer", "not-my-password")
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    sign_in(page, "viewer", "viewer-password-1")
    expect(page.locator(".account-name")).to_contain_text("viewer")
    assert "/login" not in page.url
