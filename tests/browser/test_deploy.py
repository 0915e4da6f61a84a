"""The dashboard started the README way (gunicorn) works in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import expect

FIRST_PASSWORD = re.compile(r"created the user 'admin' with password (\S+)")


def test_served_home_page_loads_htmx_and_css_without_console_errors(served_app, page):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log = served_app["log"].read_text()
    passwords = FIRST_PASSWORD.findall(log)
    assert len(passwords) == 1, f"serve must print the first admin's password once:\n{log}"
    page.goto(served_app["url"] + "/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.fill("#username", "admin")
    page.fill("#password", passwords[0])
    page.click("button[type=submit]")
    expect(page).to_have_url(served_app["url"] + "/")
    expect(page.locator("header.topbar")).to_be_visible()
    expect(page.locator(".account-name")).to_contain_text("admin")
    page.wait_for_load_state("load")  # the deferred scripts have run (or failed) by then
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("window.htmx.version").startswith("2.0.")
    background = page.evaluate("getComputedStyle(document.querySelector('.topbar')).display")
    assert background == "flex", "app.css did not apply"
    assert errors == []
    assert "gunicorn" in served_app["log"].read_text().lower()
