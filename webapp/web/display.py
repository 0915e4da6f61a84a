"""How tasks look: status labels with an icon that does not rely on colour, times, excerpts.

Registered as Jinja filters and globals by ``init_app``; templates never compute these.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache

from flask import Flask, current_app
from markupsafe import Markup, escape

from webapp import limits
from webapp.engine import TASK_TYPES
from webapp.orchestration import TERMINAL_STATUSES, UI_STATUSES

# terok's lowercase labels; each icon differs in shape, not only in colour.
STATUS_DISPLAY: dict[str, tuple[str, str]] = {
    "queued": ("⏳", "queued"),
    "running": ("▶", "running"),
    "completed": ("✅", "completed"),
    "failed": ("❌", "failed"),
    "cancelled": ("⏹", "cancelled"),
    "blocked": ("🚧", "blocked"),
    "deleting": ("🧹", "deleting"),
    "lost": ("❓", "lost"),
    "unknown": ("⁇", "unknown"),  # derived on read (seed 000), never stored
}
EXCERPT_CHARS = 80
_HUMAN = "%Y-%m-%d %H:%M:%S"


def status_icon(status: str) -> str:
    return STATUS_DISPLAY.get(status, ("•", status))[0]


def status_label(status: str) -> str:
    return STATUS_DISPLAY.get(status, ("•", status))[1]


def parse_time(value: object) -> datetime | None:
    """Stored timestamps are naive ISO-8601 UTC strings; datetimes pass through."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(value: object) -> str:
    """``2026-11-22 14:03:07`` (UTC), or an empty string when unset."""
    moment = parse_time(value)
    return moment.strftime(_HUMAN) if moment else ""


def iso_time(value: object) -> str:
    """Machine-readable form for ``<time datetime=...>`` and the live duration ticker."""
    moment = parse_time(value)
    return moment.isoformat().replace("+00:00", "Z") if moment else ""


def format_duration(seconds: object) -> str:
    """``850ms``, ``4.2s``, ``3m 05s``, ``2h 03m``; empty when unknown."""
    if seconds is None or seconds == "":
        return ""
    try:
        total = float(seconds)
    except (TypeError, ValueError):
        return ""
    total = max(total, 0.0)
    if total < 1:
        return f"{round(total * 1000)}ms"
    if total < 60:
        return f"{total:.1f}s"
    whole = int(total)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def task_duration(task, now: datetime | None = None) -> float | None:
    """The stored duration, or the time since it started while it still runs."""
    if task.duration is not None:
        return task.duration
    started = parse_time(task.started_at)
    if started is None:
        return None
    finished = parse_time(task.finished_at) or now or datetime.now(UTC)
    return (finished - started).total_seconds()


def excerpt(text: object, limit: int = EXCERPT_CHARS) -> str:
    """The first non-empty line, cut to ``limit`` characters with an ellipsis."""
    if not text:
        return ""
    first, more = "", False
    for line in str(text).splitlines():
        if line.strip():
            if first:
                more = True
                break
            first = line.strip()
    if len(first) > limit:
        return first[: limit - 1] + "…"
    return first + (" …" if more else "")


def format_bytes(size: object) -> str:
    try:
        value = float(size)
    except (TypeError, ValueError):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""  # pragma: no cover


@cache
def status_badge(status: str) -> Markup:
    """The status badge: icon (not colour alone) and terok's label; built once per status."""
    return Markup(
        '<span class="badge status-{0}" data-status="{0}"><span class="badge-icon" '
        'aria-hidden="true">{1}</span>{2}</span>'
    ).format(status, status_icon(status), status_label(status))


def count_links(counts: Mapping[str, int], list_url: str) -> Markup:
    """Tasks per status as links to the list filtered by each (statuses without any left out).

    Built here rather than in a template loop: every page and poll of a project shows them.
    """
    url = escape(list_url)
    return Markup(
        "".join(
            f'\n  <a class="count status-{status}" href="{url}?status={status}" '
            f'data-count="{status}"><span aria-hidden="true">{escape(status_icon(status))}</span> '
            f"{int(n)} {escape(status_label(status))}</a>"
            for status in UI_STATUSES  # UI status names: nothing to escape
            if (n := counts.get(status))
        )
    )


def time_tag(value: object) -> Markup:
    """``<time datetime="...">2026-11-22 14:03:07</time>``, or nothing when unset."""
    moment = parse_time(value)
    if moment is None:
        return Markup("")
    iso = moment.isoformat()  # digits and punctuation only: nothing to escape
    human = f"{iso[:10]} {iso[11:19]}"
    return Markup(f'<time datetime="{iso.replace("+00:00", "Z")}">{human}</time>')


def duration_tag(task) -> Markup:
    """The task's duration; a running task's counts up in the browser (``data-since``)."""
    text = format_duration(task_duration(task))  # digits and unit letters only
    if task.status == "running" and task.started_at:
        since = iso_time(task.started_at)
        return Markup(f'<span class="live-duration" data-since="{since}">{text}</span>')
    return Markup(text)


def csrf_field_tag() -> Markup:
    """The hidden CSRF input of a form (nothing when the app has no CSRF protection)."""
    generate = current_app.jinja_env.globals.get("csrf_token")
    if generate is None:
        return Markup("")
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate())


def init_app(app: Flask) -> None:
    app.add_template_filter(format_time, "datetime")
    app.add_template_filter(iso_time, "isotime")
    app.add_template_filter(format_duration, "duration")
    app.add_template_filter(excerpt, "excerpt")
    app.add_template_filter(format_bytes, "filesize")
    app.add_template_global(status_icon)
    app.add_template_global(status_label)
    app.add_template_global(task_duration)
    app.add_template_global(status_badge)
    app.add_template_global(count_links)
    app.add_template_global(time_tag)
    app.add_template_global(duration_tag)
    app.add_template_global(csrf_field_tag)
    app.add_template_global(UI_STATUSES, "STATUSES")
    app.add_template_global(TASK_TYPES, "TASK_TYPES")
    app.add_template_global(TERMINAL_STATUSES, "TERMINAL_STATUSES")
    app.add_template_global(limits, "limits")
