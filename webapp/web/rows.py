"""The task list's rows as HTML, built in Python.

A list page shows 50 rows and every change re-renders them for the poll; this builds a row in
about a fifth of the time the same markup takes as a Jinja macro (measured with bench/web.py).
Every value from a task is escaped here; the row's shape is kept in step with the table head in
``projects/show.html`` by the web tests.
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape

from webapp.web import usage_columns
from webapp.web.display import duration_tag, excerpt, status_badge, time_tag

TITLE_CHARS = 300


def task_row(task, task_url: str, usage: dict | None = None) -> str:
    """One ``<tr>``; ``task_url`` is the (escaped) URL prefix of task pages."""
    tid = escape(task.task_id)
    payload = task.payload or ""
    title = escape(payload if len(payload) <= TITLE_CHARS else payload[: TITLE_CHARS - 1] + "…")
    exit_code = "" if task.exit_code is None else int(task.exit_code)
    return (
        f'<tr id="task-{tid}" class="task-row" data-task="{tid}">'
        f'<td class="select"><input type="checkbox" form="bulk" name="task" value="{tid}" '
        f'id="select-{tid}" hx-preserve="true" aria-label="Select task {tid}"></td>'
        f'<td class="mono"><a href="{task_url}{tid}">{tid}</a></td>'
        f'<td class="name">{escape(task.name)}</td>'
        f"<td>{escape(task.type)}</td>"
        f"<td>{status_badge(task.status)}</td>"
        f'<td class="mono excerpt" title="{title}">{escape(excerpt(payload))}</td>'
        f"<td>{escape(task.created_by)}</td>"
        f'<td class="nowrap">{time_tag(task.started_at)}</td>'
        f'<td class="nowrap">{duration_tag(task)}</td>'
        f'<td class="num">{exit_code}</td>'
        + ("" if usage is None else usage_columns.cells(usage.get(task.run_id)))
        + "</tr>"
    )


def task_rows(tasks: Iterable, task_url: str, usage: dict | None = None) -> Markup:
    """``usage`` (run id -> RunUsage) adds the Tokens and Cost cells."""
    prefix = escape(task_url)
    return Markup("\n".join(task_row(task, prefix, usage) for task in tasks))
