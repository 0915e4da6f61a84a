"""The workflow picture in Chromium: a 1 -> 200 -> 1 fan-out is three nodes (one group with
counts), the page stays under two screen heights, and the group opens as a paged table."""

from __future__ import annotations

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


def fan_out(width: int) -> dict:
    shards = [{"key": f"shard-{i}", "payload": "true", "after": ["split"]} for i in range(width)]
    return {"title": "fan", "tasks": [
        {"key": "split", "payload": "true"}, *shards,
        {"key": "join", "payload": "true", "after": [s["key"] for s in shards]},
    ]}  # fmt: skip


def test_a_200_wide_fan_out_is_one_group_node_and_the_page_is_short(served, page):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 1280, "height": 800})
    graph = orchestration.graph_new("demo", fan_out(200), actor="operator")
    login(page, served)
    page.goto(f"{served}/projects/demo/graphs/{graph.graph_id}")
    nodes = page.locator("#graph-picture .node")
    expect(nodes).to_have_count(3)
    group = page.locator("#graph-picture .node.group")
    expect(group).to_have_count(1)
    live = page.locator("#graph-live")
    expect(live).to_have_attribute("data-status", "completed", timeout=60_000)
    expect(group.locator("title")).to_contain_text("200 tasks: 200 completed")
    expect(group.locator(".node-detail")).to_contain_text("200")
    join = page.locator("tr.member").filter(has=page.locator("td.name:text-is('join')"))
    expect(join.locator("td.after")).to_have_text("200 tasks")  # a count and a link, no names
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 2 * 800, f"page is {height} px tall"
    page.locator("#graph-picture .node.group").click()
    expect(page.locator("#group-members tr.member")).to_have_count(50)
    expect(page.locator("#group-members .pager")).to_contain_text("page 1 of 4")
    page.click("#group-members a[rel=next]")
    expect(page.locator("#group-members .pager")).to_contain_text("page 2 of 4")
    expect(page.locator("#group-members tr.member").first.locator("td.name")).to_have_text(
        "shard-50"
    )
    assert errors == []


def test_the_picture_zooms_and_fits_inside_its_box_at_390_px(served, page):
    page.set_viewport_size({"width": 390, "height": 844})
    definition = {"title": "wide", "tasks": [
        {"key": "root", "payload": "true"},
        *[{"key": f"leaf-{i}", "payload": "true", "after": ["root"] if i % 2 else []}
          for i in range(5)],
    ]}  # fmt: skip
    graph = orchestration.graph_new("demo", definition, actor="operator")
    login(page, served)
    page.goto(f"{served}/projects/demo/graphs/{graph.graph_id}")
    svg = page.locator("#graph-picture svg[role=img]")
    full = svg.get_attribute("data-full")
    expect(svg).to_have_attribute("viewBox", full)
    page.click("[data-zoom=in]")
    expect(svg).not_to_have_attribute("viewBox", full)
    page.click("[data-zoom=fit]")
    expect(svg).to_have_attribute("viewBox", full)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_workflow_form_and_builder_fit_390_px(served, page):
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, served)
    page.goto(f"{served}/projects/demo/workflows/new")
    page.fill("#b_key", "only")
    page.fill("#b_payload", "true")
    page.click("#add-task")
    expect(page.locator("#graph-picture .node")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
