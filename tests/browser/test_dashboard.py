"""The dashboard's acceptance tests in Chromium: live logs and badges, stop, inline rename,
delete to the archive, escaped output, filters that survive a reload, and bulk delete.

The app runs with its worker thread, so tasks really run; polls are fast (0.3 s) to keep the
tests short. Every wait is a Playwright ``expect`` or a deadline loop, never a sleep.
"""

from __future__ import annotations

import os
import re
import time

import pytest
from playwright.sync_api import Page, expect

from webapp import orchestration
from webapp.store import records

POLL = 0.3
CHROMIUM_NOISE = ("favicon",)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WORKER_ENABLED": True, "WORKER_POLL_INTERVAL": 0.05,
            "POLL_INTERVAL": POLL}  # fmt: skip


@pytest.fixture
def served(app, live_server, users, bound):
    """The live server with a project ``demo``; the worker is stopped afterwards."""
    orchestration.project_create("demo", name="Demo", shutdown_grace=2.0, actor="test")
    yield live_server
    worker = app.extensions.get("webapp.worker")
    if worker is not None:
        worker.stop(5.0)


@pytest.fixture
def problems(page: Page):
    """Console errors, page errors and dialogs seen during the test (must stay empty)."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.append(f"pageerror: {e}"))

    def on_dialog(dialog):
        seen.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield seen
    assert [p for p in seen if not any(n in p for n in CHROMIUM_NOISE)] == []


def login(page: Page, base: str, role: str = "operator") -> None:
    page.goto(f"{base}/login")
    page.fill("#username", role)
    page.fill("#password", f"{role}-password-1")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Projects")


def new_task(name: str, payload: str) -> str:
    return orchestration.task_new("demo", name=name, payload=payload, actor="test").task_id


def wait_until(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)  # deadline loop on server-side state
    return value


def test_watch_a_task_print_lines_and_complete_without_reloading(served, page, problems):
    login(page, served)
    page.goto(f"{served}/projects/demo")
    page.keyboard.press("n")  # the keyboard shortcut opens the new-task form
    expect(page.locator("h1")).to_have_text("New task")
    page.fill("#payload", "for i in 1 2 3; do echo line $i; sleep 0.3; done")
    page.click("button:has-text('Run task')")
    expect(page.locator("#log-output")).to_contain_text("line 1")
    page.evaluate("window.__same_page = true")
    expect(page.locator("#log-output")).to_contain_text("line 1\nline 2\nline 3")
    badge = page.locator("#task-status .badge")
    expect(badge).to_have_attribute("data-status", "completed", timeout=10_000)
    expect(badge).to_contain_text("completed")
    expect(page.locator("#task-status")).not_to_have_attribute("hx-trigger", re.compile(".*"))
    assert page.evaluate("window.__same_page") is True  # no reload happened
    expect(page.locator("#task-counts")).to_contain_text("1 completed")
    text = page.locator("#log-output").inner_text()
    assert [line for line in text.splitlines() if line.startswith("line")] == [
        "line 1",
        "line 2",
        "line 3",
    ]  # appended by offset: nothing shown twice


def test_stop_a_running_sleep_ends_cancelled_and_kills_the_process(served, page, problems):
    task_id = new_task("sleeper", "sleep 600")
    run = wait_until(lambda: _running_run(task_id))
    login(page, served)
    page.goto(f"{served}/projects/demo/tasks/{task_id}")
    expect(page.locator("#task-status .badge")).to_have_attribute("data-status", "running")
    started = time.monotonic()
    page.click("button:has-text('Stop')")
    badge = page.locator("#task-status .badge")
    expect(badge).to_have_attribute("data-status", "cancelled", timeout=15_000)
    assert time.monotonic() - started < 15  # the project's 2 s grace (+ polls), not 600 s
    with pytest.raises(ProcessLookupError):
        os.killpg(run["pgid"], 0)
    expect(page.locator("table.history")).to_contain_text("operator")


def _running_run(task_id: str):
    meta = orchestration.get_task_meta("demo", task_id)
    if meta.status != "running":
        return None
    run = records.get_run(orchestration.current().store.db, meta.run_id)
    return run if run and run.get("pgid") else None


def test_rename_inline_shows_the_new_name_on_the_page_and_in_the_list(served, page, problems):
    task_id = new_task("old-name", "true")
    login(page, served)
    page.goto(f"{served}/projects/demo/tasks/{task_id}")
    page.click("#task-name a:has-text('Rename')")
    field = page.locator("#rename-input")
    expect(field).to_be_visible()
    page.evaluate("window.__same_page = true")
    field.fill("Shiny New Name")
    page.click("#task-name button:has-text('Save')")
    expect(page.locator("#task-name h1")).to_have_text("shiny-new-name")
    assert page.evaluate("window.__same_page") is True  # swapped in place
    page.click("nav.crumbs a:has-text('demo')")
    expect(page.locator(f"#task-{task_id} td.name")).to_have_text("shiny-new-name")


def test_delete_leaves_the_list_and_the_archive_shows_the_full_log(served, page, problems):
    task_id = new_task("doomed", "for i in $(seq 1 5); do echo entry $i; done; echo bye >&2")
    wait_until(lambda: orchestration.get_task_meta("demo", task_id).is_terminal)
    login(page, served, "admin")
    page.goto(f"{served}/projects/demo/tasks/{task_id}")
    page.click("a:has-text('Delete…')")
    page.click(f"button:has-text('Delete task {task_id}')")
    expect(page.locator("h1")).to_contain_text("(archived)")
    log = page.locator("#log-output")
    expect(log).to_contain_text("entry 1\nentry 2\nentry 3\nentry 4\nentry 5")
    expect(log.locator(".stderr")).to_contain_text("bye")
    page.goto(f"{served}/projects/demo")
    expect(page.locator(f"#task-{task_id}")).to_have_count(0)


def test_script_in_output_is_shown_as_coloured_text_and_never_runs(served, page, problems):
    payload = r"printf '\033[31m<script>alert(1)</script>\033[0m \033[1;32mgreen\033[0m\n'"
    task_id = new_task("xss", payload)
    wait_until(lambda: orchestration.get_task_meta("demo", task_id).is_terminal)
    login(page, served)
    page.goto(f"{served}/projects/demo/tasks/{task_id}")
    red = page.locator("#log-output .ansi31")
    expect(red).to_have_text("<script>alert(1)</script>")
    assert red.evaluate("e => getComputedStyle(e).color") not in ("", "rgb(0, 0, 0)")
    expect(page.locator("#log-output .ansi32")).to_have_text("green")
    assert page.locator("#log-output script").count() == 0
    assert not any(p.startswith("dialog") for p in problems)


def test_filters_and_search_survive_a_reload_and_bulk_delete_three(served, page, problems):
    names = ["apple-one", "apple-two", "apple-three", "banana", "cherry"]
    ids = {name: new_task(name, f"echo {name}") for name in names}
    wait_until(
        lambda: all(orchestration.get_task_meta("demo", i).is_terminal for i in ids.values())
    )
    stopped = new_task("queued-one", "true")
    login(page, served, "admin")
    page.goto(f"{served}/projects/demo")
    expect(page.locator("tr.task-row")).to_have_count(6)
    page.keyboard.press("/")
    expect(page.locator("[data-search]")).to_be_focused()
    page.keyboard.type("apple")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("tr.task-row")).to_have_count(3)
    with page.expect_navigation():  # choosing a status submits the filter form by itself
        page.select_option("select[name=status]", "completed")
    expect(page).to_have_url(re.compile(r"q=apple.*status=completed|status=completed.*q=apple"))
    page.reload()
    expect(page.locator("tr.task-row")).to_have_count(3)
    expect(page.locator("[data-search]")).to_have_value("apple")
    expect(page.locator("select[name=status]")).to_have_value("completed")
    assert stopped not in page.content()
    for name in ("apple-one", "apple-two", "apple-three"):
        page.check(f"#select-{ids[name]}")
    expect(page.locator("[data-selected-count]")).to_contain_text("3 selected")
    page.click("button:has-text('Delete selected')")
    expect(page.locator("h1")).to_have_text("Delete 3 tasks?")
    for name in ("apple-one", "apple-two", "apple-three"):
        expect(page.locator(".confirm-list")).to_contain_text(ids[name])
    page.click("button:has-text('Delete 3 tasks')")
    expect(page.locator("tr.task-row")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"q=apple"))
    page.goto(f"{served}/projects/demo")
    expect(page.locator("tr.task-row")).to_have_count(3)
