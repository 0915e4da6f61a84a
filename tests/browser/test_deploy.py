"""The dashboard started the README way (gunicorn) works in a real browser."""

from __future__ import annotations

from playwright.sync_api import expect


def test_served_home_page_loads_htmx_and_css_without_console_errors(served_app, page):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(served_app["url"] + "/")
    expect(page.locator("header.topbar")).to_be_visible()
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("window.htmx.version").startswith("2.0.")
    background = page.evaluate("getComputedStyle(document.querySelector('.topbar')).display")
    assert background == "flex", "app.css did not apply"
    assert errors == []
    assert "gunicorn" in served_app["log"].read_text().lower()
