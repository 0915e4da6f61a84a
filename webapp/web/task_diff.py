"""What an agent changed: the task workspace's git diff, coloured on the task page and
downloadable as a patch (``/projects/<p>/tasks/<t>/diff``)."""

from __future__ import annotations

from flask import Blueprint, Response, abort
from markupsafe import Markup, escape

from webapp import orchestration
from webapp.web import lookup

bp = Blueprint("task_diff", __name__, url_prefix="/projects/<project_id>/tasks/<task_id>")
lookup.register(bp)

DIFF_TYPES = ("agent",)
_LINE_CLASSES = (
    ("+++", "diff-file"),
    ("---", "diff-file"),
    ("diff --git", "diff-file"),
    ("@@", "diff-hunk"),
    ("+", "diff-add"),
    ("-", "diff-del"),
)


def workspace_diff(task) -> str | None:
    """The diff an agent run left (None: not an agent task, not finished, or not git)."""
    if task.type not in DIFF_TYPES or not task.is_terminal:
        return None
    try:
        return orchestration.get_workspace_git_diff(task.project_id, task.task_id)
    except (orchestration.OrchestrationError, OSError):
        return None


def diff_html(text: str) -> Markup:
    """Each line escaped and classed (added, removed, hunk, file) for the stylesheet."""
    out = []
    for line in text.splitlines():
        css = next((c for prefix, c in _LINE_CLASSES if line.startswith(prefix)), "diff-ctx")
        out.append(f'<span class="{css}">{escape(line)}</span>')
    return Markup("\n".join(out))


@bp.get("/diff")
def download(project_id: str, task_id: str):
    """The workspace's diff as a patch file."""
    task_id = orchestration.resolve_task_id(project_id, task_id)
    try:
        text = orchestration.get_workspace_git_diff(project_id, task_id)
    except orchestration.OrchestrationError as error:
        abort(409, str(error))
    if text is None:
        abort(404, f"Task {project_id}/{task_id} has no git workspace to diff.")
    name = f"{project_id}-{task_id}.diff"
    return Response(text, mimetype="text/x-diff",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})  # fmt: skip
