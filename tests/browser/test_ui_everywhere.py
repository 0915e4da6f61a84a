"""Every screen at 1280 px and at 390 px: nothing scrolls sideways, icons render without an
emoji font, buttons are named by words; screenshots for review in tests/browser/artifacts/.

The app runs its worker thread, so the demo tasks really run. Every wait is a Playwright
``expect`` or a deadline loop, never a sleep.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from webapp import orchestration
from webapp.orchestration import UI_STATUSES as STATUSES

POLL = 0.3
ARTIFACTS = Path(__file__).parent / "artifacts"
WORD = re.compile(r"^[A-Za-z][\w ,.'’…:()/+-]*$")


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WORKER_ENABLED": True, "WORKER_POLL_INTERVAL": 0.05,
            "POLL_INTERVAL": POLL}  # fmt: skip


@pytest.fixture
def demo(app, live_server, users, bound, tmp_path):
    """A project with a finished, a failed, a running and an archived task, and a workflow."""
    release = tmp_path / "release"
    orchestration.project_create("demo", name="Demo", shutdown_grace=2.0, actor="test")
    wide = "x" * 300
    ids = {
        "done": orchestration.task_new(
            "demo", name="build-the-docs-with-a-rather-long-name-that-wraps",
            payload=f"echo start; echo {wide}; echo done", actor="admin"),
        "failed": orchestration.task_new(
            "demo", name="lint", payload="echo oops >&2; exit 3", actor="admin"),
        "running": orchestration.task_new(
            "demo", name="serve",
            payload=f"echo up; for i in $(seq 1200); do [ -e {release} ] && break; sleep .05; done",
            actor="admin"),
        "gone": orchestration.task_new("demo", name="old", payload="echo bye", actor="admin"),
    }  # fmt: skip
    ids = {key: meta.task_id for key, meta in ids.items()}
    graph = orchestration.graph_new(
        "demo",
        {"title": "release", "tasks": [
            {"key": "prepare", "payload": "echo ready"},
            {"key": "test", "payload": "echo ok", "after": ["prepare"]},
        ]},
        actor="admin",
    )  # fmt: skip
    yield {"url": live_server, "ids": ids, "graph": graph, "release": release}
    release.touch()
    worker = app.extensions.get("webapp.worker")
    if worker is not None:
        worker.stop(5.0)


def login(page: Page, base: str, role: str = "admin") -> None:
    page.goto(f"{base}/login")
    page.fill("#username", role)
    page.fill("#password", f"{role}-password-1")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Projects")


def settled(page: Page, base: str, task_id: str, status: str) -> None:
    page.goto(f"{base}/projects/demo/tasks/{task_id}")
    expect(page.locator("#task-status")).to_have_attribute("data-status", status, timeout=30_000)


def buttons_are_words(page: Page) -> None:
    """Every visible button's accessible name starts with a word (no symbol, no emoji)."""
    names = page.locator("button:visible, [role=button]:visible, a.button:visible")
    for i in range(names.count()):
        name = names.nth(i).evaluate(
            "e => (e.getAttribute('aria-label') || e.innerText).replace(/\\s+/g, ' ').trim()"
        )
        assert WORD.match(name), f"{page.url}: button named {name!r}"


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_fits_its_window(demo, page: Page, fits, width):
    page.set_viewport_size({"width": width, "height": 900})
    base, ids = demo["url"], demo["ids"]
    login(page, base)
    settled(page, base, ids["done"], "completed")
    settled(page, base, ids["failed"], "failed")
    settled(page, base, ids["gone"], "completed")
    page.goto(f"{base}/projects/demo/tasks/{ids['gone']}/delete")
    page.locator("form button.danger").click()
    archived = base + "/projects/demo/archive"
    graph_id = getattr(demo["graph"], "graph_id", None) or demo["graph"].id
    pages = [
        f"{base}/projects",
        f"{base}/projects/demo",
        f"{base}/projects/demo/tasks/{ids['done']}",
        f"{base}/projects/demo/tasks/{ids['running']}",
        f"{base}/projects/demo/tasks/{ids['failed']}",
        f"{base}/projects/demo/tasks/new",
        f"{base}/projects/demo/settings",
        f"{base}/projects/demo/delete",
        archived,
        f"{base}/projects/demo/graphs",
        f"{base}/projects/demo/graphs/new",
        f"{base}/projects/demo/graphs/{graph_id}",
        f"{base}/admin/audit",
        f"{base}/admin/users",
        f"{base}/admin/tokens",
        f"{base}/account/",
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    for url in pages:
        page.goto(url)
        fits(page)
        buttons_are_words(page)
        name = url.removeprefix(base).strip("/").replace("/", "_") or "home"
        page.screenshot(path=ARTIFACTS / "pages" / f"{width}-{name}.png", full_page=True)
    page.goto(archived)
    page.locator("table a[href*='/archive/']").first.click()
    fits(page)
    # The top bar is one row: no taller than two lines of text, and nothing in it is cut off.
    page.goto(f"{base}/projects/demo")
    bar = page.locator("header.topbar")
    assert bar.bounding_box()["height"] < 64
    assert bar.evaluate("b => b.scrollWidth <= b.clientWidth")
    if width < 700:  # the account links fold into a menu that opens inside the window
        expect(page.locator("[data-logout]")).to_be_hidden()
        page.get_by_text("Menu", exact=True).click()
        expect(page.locator("[data-logout]")).to_be_visible()
        for link in ("Users", "Audit log"):
            box = page.get_by_role("link", name=link).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width
        fits(page)
        page.get_by_role("link", name="Audit log").click()
        expect(page.locator("h1")).to_contain_text("Audit")
    else:
        expect(page.locator("[data-logout]")).to_be_visible()
    page.goto(f"{base}/projects/demo")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"list-{width}.png", full_page=True)
    page.goto(f"{base}/projects/demo/tasks/{ids['done']}")
    page.screenshot(path=ARTIFACTS / f"task-{width}.png", full_page=True)
    page.goto(f"{base}/projects/demo/graphs/{graph_id}")
    page.screenshot(path=ARTIFACTS / f"workflow-{width}.png", full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_status_icons_are_visible_svg_and_buttons_are_words(demo, page: Page, fits, width):
    page.set_viewport_size({"width": width, "height": 900})
    base, ids = demo["url"], demo["ids"]
    login(page, base)
    settled(page, base, ids["failed"], "failed")
    facts = page.locator(".facts")
    expect(facts).to_contain_text("Ended because")
    expect(facts).to_contain_text("the command exited with code 3")
    expect(facts).not_to_contain_text("exit_code")
    page.goto(f"{base}/projects/demo/tasks/{ids['running']}")
    expect(page.locator("#task-status")).to_have_attribute("data-status", "running")
    fits(page)
    for url in (f"{base}/projects/demo", f"{base}/projects/demo/tasks/{ids['running']}",
                f"{base}/projects/demo/tasks/{ids['failed']}", f"{base}/projects"):  # fmt: skip
        page.goto(url)
        fits(page)
        badges = page.locator(".badge[data-status], .count")
        assert badges.count() > 0
        boxes = badges.evaluate_all(
            "els => els.map(e => { const s = e.querySelector('svg');"
            " if (!s) return [e.textContent, 0, 0]; const b = s.getBoundingClientRect();"
            " return [e.textContent.trim(), b.width, b.height]; })"
        )
        assert all(w > 0 and h > 0 for _, w, h in boxes), boxes
        buttons_are_words(page)
    # Every status's icon paints (no font involved), including the ones no demo task is in.
    sizes = page.evaluate(
        """statuses => statuses.map(s => {
            const ns = "http://www.w3.org/2000/svg";
            const svg = document.createElementNS(ns, "svg");
            const use = document.createElementNS(ns, "use");
            use.setAttribute("href", "/static/icons.svg#" + s);
            svg.appendChild(use); svg.setAttribute("width", "16"); svg.setAttribute("height", "16");
            document.body.appendChild(svg);
            return [s, use.getBBox().width, use.getBBox().height];
        })""",
        list(STATUSES),
    )
    assert all(w > 0 and h > 0 for _, w, h in sizes), sizes
    # The sprite's symbol really paints: the Stop button's icon has pixels, not a box.
    page.goto(f"{base}/projects/demo/tasks/{ids['running']}")
    stop = page.get_by_role("button", name="Stop", exact=True)
    expect(stop).to_be_visible()
    box = stop.locator("svg use").evaluate(
        "u => { const b = u.getBBox(); return [b.width, b.height] }"
    )
    assert box[0] > 0 and box[1] > 0


def test_theme_toggle_is_remembered_and_overrides_the_system(demo, page: Page, fits):
    page.emulate_media(color_scheme="light")
    base, ids = demo["url"], demo["ids"]
    login(page, base)
    background = "() => getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    toggle = page.locator("[data-theme-toggle]")
    expect(toggle).to_have_attribute("aria-label", "Theme: system")
    toggle.click()
    expect(toggle).to_have_attribute("aria-label", "Theme: light")
    toggle.click()
    expect(toggle).to_have_attribute("aria-label", "Theme: dark")
    expect(page.locator("html")).to_have_class(re.compile(r"\btheme-dark\b"))
    dark = page.evaluate(background)
    assert dark != light
    page.goto(f"{base}/projects/demo/tasks/{ids['done']}")  # remembered on the next page
    expect(page.locator("html")).to_have_class(re.compile(r"\btheme-dark\b"))
    assert page.evaluate(background) == dark
    page.emulate_media(color_scheme="dark")
    toggle.click()  # back to following the system, which is now dark
    expect(toggle).to_have_attribute("aria-label", "Theme: system")
    assert page.evaluate(background) == dark
    page.emulate_media(color_scheme="light")
    assert page.evaluate(background) == light
    fits(page)


def test_keyboard_help_and_list_navigation(demo, page: Page, fits):
    base, ids = demo["url"], demo["ids"]
    login(page, base)
    settled(page, base, ids["done"], "completed")
    page.goto(f"{base}/projects/demo")
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Retry this task")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    first = page.locator("tr.task-row").first
    expect(first).to_have_class(re.compile(r"\bkbd-current\b"))
    target = first.get_attribute("data-task")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/tasks/{target}$"))
    page.goto(f"{base}/projects/demo/tasks/{ids['running']}")
    expect(page.locator("#task-status")).to_have_attribute("data-status", "running")
    page.keyboard.press("s")
    expect(page.locator(".flash")).to_contain_text("Stop requested")
    demo["release"].touch()
    expect(page.locator("#task-status")).to_have_attribute("data-terminal", "", timeout=30_000)
    page.keyboard.press("r")
    expect(page.locator(".flash")).to_contain_text("queued again")
    page.wait_for_load_state("load")  # the deferred key script has run on the new page
    page.keyboard.press("/")
    expect(page.locator("input[type=search]").first).to_be_focused()
    fits(page)
