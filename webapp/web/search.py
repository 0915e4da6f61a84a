"""Search every task and every log of a project: ranked log lines linked to the line.

Also the line permalinks of log windows: ``?offset=<line start>&line=<n>#L<n>`` opens the
window at that line, which carries ``id="L<n>"`` and is highlighted.
"""

from __future__ import annotations

import re
from dataclasses import replace

from flask import Blueprint, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import BadRequest

from webapp import orchestration
from webapp.engine import TASK_TYPES
from webapp.limits import SEARCH_MAX_CHARS as MAX_SEARCH_CHARS
from webapp.orchestration import UI_STATUSES as STATUSES
from webapp.orchestration import archive_index, search, task_lists
from webapp.web import lookup
from webapp.web.listing import parse_choice

bp = Blueprint("search", __name__, url_prefix="/projects/<project_id>/search")
lookup.register(bp)

SCOPES = ("all", "live", "archived")
LINE_HITS = 50
TASK_HITS = 20
_TAG = re.compile(r"<(/?)span\b")


def requested_line() -> int | None:
    raw = (request.args.get("line") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 10**9:
        raise BadRequest(f"line must be a line number (1 or more), got {raw[:20]!r}.")
    return int(raw)


def mark_line(panel, line_no: int | None):
    """The panel with its first line wrapped as the target of ``#L<line_no>``."""
    if line_no is None:
        return panel
    html = str(panel.html)
    end = html.find("\n")
    first, rest = (html, "") if end < 0 else (html[: end + 1], html[end + 1 :])
    tags = _TAG.findall(first)
    if tags.count("") != tags.count("/"):  # a colour runs on past the line: anchor only
        wrapped = f'<span id="L{line_no}" class="log-line-target"></span>{html}'
    else:
        wrapped = f'<span id="L{line_no}" class="log-line-target">{first}</span>{rest}'
    return replace(panel, html=Markup(wrapped))


def line_url(project_id: str, hit, query: str) -> str:
    """Where a hit opens: its log window starting at the line, scrolled to it."""
    args = {"offset": hit.offset, "line": hit.line_no, "q": query}
    if hit.archive_id:
        url = url_for("archive.log", project_id=project_id, archive_id=hit.archive_id,
                      run=hit.run_no, **args)  # fmt: skip
    else:
        url = url_for("tasks_live.log", project_id=project_id, task_id=hit.task_id,
                      run=hit.run_no, **args)  # fmt: skip
    return f"{url}#L{hit.line_no}"


@bp.get("")
def index(project_id: str):
    project = orchestration.project_get(project_id)
    q = (request.args.get("q") or "").strip()[:MAX_SEARCH_CHARS]
    status = parse_choice(request.args, "status", STATUSES)
    type = parse_choice(request.args, "type", TASK_TYPES)
    scope = parse_choice(request.args, "in", SCOPES) or "all"
    lines, tasks, archived = [], None, None
    if q:
        archived_only = {"all": None, "live": False, "archived": True}[scope]
        lines = search.search_logs(q, project_id=project_id, status=status, type=type,
                                   archived=archived_only, limit=LINE_HITS)  # fmt: skip
        if scope != "archived":
            query = task_lists.build_query(project_id, status=status, type=type, search=q)
            tasks = task_lists.task_page(query, limit=TASK_HITS)
        if scope != "live":
            archived = archive_index.archive_page(project_id, status=status, type=type,
                                                  search=q, limit=TASK_HITS)  # fmt: skip
    return render_template(
        "search/index.html",
        project=project,
        q=q,
        status=status,
        type=type,
        scope=scope,
        scopes=SCOPES,
        lines=[(hit, line_url(project_id, hit, q)) for hit in lines],
        tasks=tasks,
        archived=archived,
    )
