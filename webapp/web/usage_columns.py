"""The task list's Tokens and Cost columns: shown only for projects with prompt tasks.

Kept apart from the list itself: one extra indexed read per page (the page's runs' usage),
and a ``usage_sort`` filter that orders the list by the current run's tokens or cost.
"""

from __future__ import annotations

from flask import url_for
from markupsafe import Markup, escape

from webapp.orchestration import llm

SORT_LABELS = {"tokens": "Tokens", "cost": "Cost"}


def context(project_id: str, tasks: list) -> dict:
    """``usage_columns`` (show them?) and ``usage`` (run id -> RunUsage) for a list page."""
    if not llm.shows_usage(project_id):
        return {"usage_columns": False, "usage": None}
    return {"usage_columns": True, "usage": llm.runs_usage([t.run_id for t in tasks])}


def cells(usage) -> str:
    """The two cells of one row ("" when the run used no model)."""
    if usage is None:
        return '<td class="num"></td><td class="num"></td>'
    cost = "" if usage.cost is None else f"${usage.cost:.4f}"
    return (
        f'<td class="num" data-usage="tokens">{usage.total_tokens}</td>'
        f'<td class="num" data-usage="cost">{escape(cost)}</td>'
    )


def headers(filters, project_id: str) -> Markup:
    """Sortable heads: a click sorts most first, a second click least first."""
    out = []
    for key, label in SORT_LABELS.items():
        current = filters.usage_sort
        target = f"-{key}" if current == key else key
        arrow = " ↓" if current == key else " ↑" if current == f"-{key}" else ""
        sort = "descending" if current == key else "ascending" if current == f"-{key}" else "none"
        href = url_for("projects.show", project_id=project_id,
                       **filters.args(usage_sort=target, page=1))  # fmt: skip
        out.append(
            f'<th class="num" aria-sort="{sort}"><a href="{escape(href)}" '
            f'data-sort="{key}">{label}{arrow}</a></th>'
        )
    return Markup("".join(out))
