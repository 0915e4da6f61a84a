"""The issue's acceptance run in Chromium: build a diamond a -> (b, c) -> d plus a finally e
in the builder where c fails, watch the picture, fix c as a new version, rerun from c (a and b
are not run again), and find both runs on the workflow's page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from webapp import orchestration

POLL = 0.3


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


def login(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", "operator")
    page.fill("#password", "operator-password-1")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Projects")


def add_task(page: Page, key: str, payload: str, after=(), *, final: bool = False) -> None:
    count = page.locator("#graph-picture .node").count()
    page.fill("#b_key", key)
    page.fill("#b_payload", payload)
    for parent in after:
        page.check(f"input[name=b_after][value='{parent}']")
    if final:
        page.check("#b_finally")
    page.click("#add-task")
    expect(page.locator("#graph-picture .node")).to_have_count(count + 1)


def node(page: Page, name: str):
    return page.locator(f"#graph-picture .node[data-name='{name}']")


def test_build_a_diamond_fix_c_as_a_new_version_and_rerun_from_c(served, page, tmp_path):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    ran = tmp_path / "ran.txt"
    login(page, served)
    page.goto(f"{served}/projects/demo/workflows/new")
    page.fill("#title", "diamond")
    add_task(page, "a", f"echo a >> {ran}")
    add_task(page, "b", f"echo b >> {ran}", ["a"])
    add_task(page, "c", f"echo c >> {ran}; exit 3", ["a"])
    add_task(page, "d", f"echo d >> {ran}", ["b", "c"])
    add_task(page, "e", f"echo e >> {ran}", ["d"], final=True)
    expect(page.locator("#definition")).to_have_value(re.compile(r"key: e\n.*finally: true", re.S))
    page.click("button[value=run]")
    expect(page.locator("h1")).to_contain_text("diamond")
    page.evaluate("window.__same_page = true")
    expect(page.locator("#graph-live")).to_have_attribute("data-status", "failed", timeout=30_000)
    for name, status in {"a": "completed", "b": "completed", "c": "failed", "d": "blocked",
                         "e": "completed"}.items():  # fmt: skip
        expect(node(page, name)).to_have_attribute("data-status", status)
    c_id = node(page, "c").get_attribute("id").removeprefix("t-")
    d_id = node(page, "d").get_attribute("id").removeprefix("t-")
    expect(page.locator(f"#e-t-{c_id}-t-{d_id}")).to_have_class("edge blocked")
    assert page.evaluate("window.__same_page") is True  # the picture changed without reloads
    run_page = page.url

    page.click("a:has-text('version 1')")
    page.click("a:has-text('Edit')")
    text = page.locator("#definition").input_value()
    assert "exit 3" in text
    page.fill("#definition", text.replace("; exit 3", ""))
    page.click("button[value=save]")
    expect(page.locator("h1")).to_contain_text("v2")

    page.goto(run_page)
    expect(page.locator("#rerun-task")).to_have_value(c_id)  # the failed task is preselected
    page.click(".rerun-from button")
    expect(page.locator("#graph-live")).to_have_attribute("data-status", "completed",
                                                          timeout=30_000)  # fmt: skip
    for name in "abcde":
        expect(node(page, name)).to_have_attribute("data-status", "completed")
    # a and b ran once (the rerun took them over); c and e twice; d once
    assert sorted(ran.read_text().split()) == sorted("abce" + "cde")
    page.click("a:has-text('version 2')")
    runs = page.locator("tr.workflow-run")
    expect(runs).to_have_count(2)
    expect(runs.nth(0)).to_have_attribute("data-status", "completed")
    expect(runs.nth(1)).to_have_attribute("data-status", "failed")
    assert errors == []
