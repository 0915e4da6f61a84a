"""Wires the dashboard's template filters and globals and its rendered-log cache."""

from __future__ import annotations

from flask import Flask
from markupsafe import Markup

from webapp import orchestration
from webapp.web import display, links, rows, tasks_live, usage_columns
from webapp.web.logview import RenderedCache, ansi_to_html


def highlight(text: object, query: str | None) -> Markup:
    """Escaped (and coloured) text with ``query`` matches in ``<mark>``."""
    return Markup(ansi_to_html(str(text or ""), query))


def init_app(app: Flask) -> None:
    display.init_app(app)
    links.init_app(app)
    app.extensions[tasks_live.CACHE_KEY] = RenderedCache()
    app.add_template_filter(highlight, "highlight")
    app.add_template_global(rows.task_rows, "task_rows")
    app.add_template_global(usage_columns.headers, "usage_headers")
    app.add_template_global(links.task_links, "task_links")
    app.add_template_global(orchestration.preview_task_name, "preview_task_name")
