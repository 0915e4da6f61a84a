"""The rename form's preview: the name a task would get, shown as it is typed (htmx GET).

Nothing is saved here; the same rules run again when the form is posted.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from webapp import orchestration
from webapp.web import lookup
from webapp.web.roles import require_role

bp = Blueprint("rename_preview", __name__, url_prefix="/projects/<project_id>/tasks/<task_id>")
lookup.register(bp)

MAX_TYPED = 1000


@bp.get("/rename/preview")
@require_role("operator")
def preview(project_id: str, task_id: str):
    task = orchestration.get_task_meta(project_id, task_id)
    typed = request.args.get("name", "")[:MAX_TYPED]
    html = render_template(
        "tasks/_rename_preview.html", task=task, preview=orchestration.preview_task_name(typed)
    )
    return html, 200, {"Cache-Control": "no-store"}
