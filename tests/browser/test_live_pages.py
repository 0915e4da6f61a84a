"""Live pages never lie: the download size follows the output, a task deleted from another
tab stops its page's polling and says so, and "Stop requested" goes once the task stopped.

Each test runs at 1280 px and at 390 px, and checks that the page never scrolls sideways.
Tasks wait for a file the test creates, so the page is seen in each state however slow the
machine is; every wait is a Playwright ``expect`` (one bounded wait observes that no more
requests come).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from webapp import orchestration
from webapp.web.display import format_bytes

POLL = 0.3
WAIT_FOR = "for i in $(seq 1200); do [ -e {0} ] && break; sleep .05; done"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WORKER_ENABLED": True, "WORKER_POLL_INTERVAL": 0.05,
            "POLL_INTERVAL": POLL}  # fmt: skip


@pytest.fixture
def served(app, live_server, users, bound):
    orchestration.project_create("demo", name="Demo", shutdown_grace=30.0, actor="test")
    yield live_server
    worker = app.extensions.get("webapp.worker")
    if worker is not None:
        worker.stop(5.0)


@pytest.fixture(params=[1280, 390], ids=["1280px", "390px"])
def page(page: Page, request):
    page.set_viewport_size({"width": request.param, "height": 900})
    return page


def login(page: Page, base: str, role: str = "admin") -> None:
    page.goto(f"{base}/login")
    page.fill("#username", role)
    page.fill("#password", f"{role}-password-1")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Projects")


def running_page(page: Page, base: str, payload: str) -> str:
    task_id = orchestration.task_new("demo", name="watched", payload=payload, actor="admin").task_id
    page.goto(f"{base}/projects/demo/tasks/{task_id}")
    expect(page.locator("#task-status")).to_have_attribute("data-status", "running", timeout=30_000)
    return task_id


def test_download_size_follows_the_output(served, page: Page, fits, tmp_path):
    release = tmp_path / "release"
    login(page, served)
    payload = f"echo first; {WAIT_FOR.format(release)}; seq 1 2000; echo last"
    task_id = running_page(page, served, payload)
    expect(page.locator("#log-output")).to_contain_text("first")
    size = page.locator("[data-log-size]")
    first = size.inner_text()
    fits(page)
    release.touch()
    expect(page.locator("#log-output")).to_contain_text("last", timeout=30_000)
    expect(page.locator("#task-status")).to_have_attribute("data-status", "completed")
    path = orchestration.run_log_path("demo", task_id, 1)
    expect(size).to_have_text(format_bytes(path.stat().st_size))
    assert size.inner_text() != first  # it grew on the page, without a reload
    expect(page.locator("[data-log-state]")).to_contain_text("the run is over")
    fits(page)
    assert page.locator("#task-status").get_attribute("hx-trigger") is None
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if f"/tasks/{task_id}/" in r.url else None)
    page.wait_for_timeout(POLL * 5 * 1000)  # five poll intervals: a finished page asks nothing
    assert polls == []


def test_a_task_deleted_from_another_page_stops_polling_and_says_so(
    served, page: Page, fits, tmp_path
):
    release = tmp_path / "release"
    login(page, served)
    task_id = running_page(page, served, f"echo hello; {WAIT_FOR.format(release)}")
    expect(page.locator("[data-log-state]")).to_contain_text("live")
    other = page.context.new_page()
    other.goto(f"{served}/projects/demo/tasks/{task_id}/delete")
    other.locator("form button.danger").click()
    release.touch()  # the run ends as the delete stops it
    status = page.locator("#task-status")
    expect(status).to_have_attribute("data-status", "gone", timeout=30_000)
    expect(status).to_contain_text("was deleted")
    expect(page.locator("[data-log-state]")).to_contain_text("was deleted")
    expect(page.locator("#log")).to_have_attribute("data-done", "1")
    expect(page.locator("[data-log-download]")).to_be_hidden()  # it would be a 404 now
    assert status.get_attribute("hx-trigger") is None  # the status poll ended too
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if f"/tasks/{task_id}/" in r.url else None)
    page.wait_for_timeout(POLL * 5 * 1000)  # five poll intervals: no request may come
    assert polls == []
    fits(page)
    other.close()


def test_stop_requested_flash_goes_once_the_task_is_cancelled(served, page: Page, fits, tmp_path):
    release = tmp_path / "release"
    login(page, served)
    # On SIGTERM the task takes its time to stop: until the test creates ``release``.
    payload = (
        f"trap '{WAIT_FOR.format(release)}; exit 143' TERM; echo started; "
        "while true; do sleep .05; done"
    )
    running_page(page, served, payload)
    expect(page.locator("#log-output")).to_contain_text("started")
    page.get_by_role("button", name="Stop", exact=True).click()
    flash = page.locator(".flash", has_text="Stop requested")
    expect(flash).to_be_visible()
    expect(page.locator("#task-status")).to_contain_text("stop requested by admin")
    fits(page)
    release.touch()
    expect(page.locator("#task-status")).to_have_attribute("data-status", "cancelled",
                                                           timeout=30_000)  # fmt: skip
    expect(flash).to_have_count(0)
    counts = page.locator("#task-counts")
    expect(counts.locator("[data-count=cancelled]")).to_contain_text("1 cancelled")
    expect(counts.locator("[data-count=running]")).to_have_count(0)
    expect(page.locator("[data-log-state]")).to_contain_text("the run is over")
