"""Serves htmx from its package (never copied into the repository) under /static/."""

from __future__ import annotations

from importlib.resources import files

from flask import Flask, send_from_directory

HTMX_PACKAGE = "js_lib_htmx"
HTMX_DIR = files(HTMX_PACKAGE) / "static" / "htmx"
HTMX_URL = "/static/vendor/htmx.min.js"


def htmx_min_js():
    return send_from_directory(str(HTMX_DIR), "htmx.min.js", mimetype="text/javascript")


def init_app(app: Flask) -> None:
    app.add_url_rule(HTMX_URL, "htmx_js", htmx_min_js)
