"""Icons that render on every machine: one SVG sprite built from the heroicons package.

Emoji need an emoji font (Debian's Chromium has none: every one is the same empty box), so
statuses and buttons use inline ``<svg><use href="/static/icons.svg#name"></svg>``. The
sprite is made here at first request from the package's own files (never copied into the
repository). Icons are decoration: ``aria-hidden`` always, with a word beside them.
"""

from __future__ import annotations

import re
from functools import cache

from flask import Flask, Response, has_request_context, url_for
from heroicons.jinja import heroicon_mini
from markupsafe import Markup

from webapp.orchestration import UI_STATUSES

SPRITE_URL = "/static/icons.svg"

# Our name -> heroicons "mini" (20 px, solid) name.
ICONS: dict[str, str] = {
    "queued": "clock",
    "running": "play-circle",
    "completed": "check-circle",
    "failed": "x-circle",
    "cancelled": "stop-circle",
    "blocked": "no-symbol",
    "deleting": "trash",
    "lost": "question-mark-circle",
    "stop": "stop",
    "retry": "arrow-path",
    "delete": "trash",
    "new": "plus",
    "download": "arrow-down-tray",
    "search": "magnifying-glass",
    "sun": "sun",
    "moon": "moon",
    "theme": "computer-desktop",
    "keyboard": "command-line",
    "warning": "exclamation-triangle",
    "menu": "bars-3",
    "unknown": "question-mark-circle",
}
STATUS_ICONS = {s: s for s in UI_STATUSES}  # each status has a symbol of its own name

_VIEWBOX = re.compile(r'viewBox="([^"]+)"')
_BODY = re.compile(r"<svg[^>]*>(.*)</svg>", re.S)


@cache
def sprite() -> str:
    """Every icon as a ``<symbol id="name">`` in one SVG document."""
    symbols = []
    for name, source in ICONS.items():
        svg = str(heroicon_mini(source))
        view_box = _VIEWBOX.search(svg).group(1)
        body = _BODY.search(svg).group(1).strip()
        symbols.append(f'<symbol id="{name}" viewBox="{view_box}">{body}</symbol>')
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" fill="currentColor">'
        + "".join(symbols)
        + "</svg>\n"
    )


@cache
def _icon_markup(href: str, name: str, extra_class: str) -> Markup:
    cls = f"icon {extra_class}".strip()
    return Markup(
        f'<svg class="{cls}" aria-hidden="true" focusable="false" width="16" height="16">'
        f'<use href="{href}#{name}"></use></svg>'
    )


def icon(name: str, extra_class: str = "") -> Markup:
    """An inline icon from the sprite; ``name`` is one of :data:`ICONS` (unknown: a "?")."""
    if name not in ICONS:
        name = "unknown"
    href = url_for("icons_svg") if has_request_context() else SPRITE_URL
    return _icon_markup(href, name, extra_class)


def status_icon(status: str) -> Markup:
    return icon(STATUS_ICONS.get(status, "unknown"), "status-icon")


# For text that cannot hold an element (SVG <text>, <option>, titles): plain characters that
# DejaVu Sans and every system font have (no emoji presentation), one shape per status.
STATUS_GLYPHS = {
    "queued": "○",
    "running": "▶",
    "completed": "✓",
    "failed": "✗",
    "cancelled": "■",
    "blocked": "⊘",
    "deleting": "◌",
    "lost": "?",
    "unknown": "?",
}


def status_glyph(status: str) -> str:
    return STATUS_GLYPHS.get(status, "?")


def icons_svg() -> Response:
    response = Response(sprite(), mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response


def init_app(app: Flask) -> None:
    app.add_url_rule(SPRITE_URL, "icons_svg", icons_svg)
    app.add_template_global(icon)
