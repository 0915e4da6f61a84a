"""Bulk actions over every task matching the list's filter, not only the ticked rows.

GET shows the preview: how many tasks of each status match and how many the action will
touch. The confirming POST carries the same filter (the URL's arguments) and acts on what
matches it then; one audit entry names the filter and the outcome.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from webapp import limits, orchestration
from webapp.orchestration import errors, task_lists
from webapp.orchestration.status import TERMINAL_STATUSES, UI_STATUSES
from webapp.web import deleting, lookup
from webapp.web.auditing import record_audit
from webapp.web.listing import parse_filters
from webapp.web.projects import list_query
from webapp.web.roles import require_role, user_can_delete

bp = Blueprint("bulk", __name__, url_prefix="/projects/<project_id>/bulk-matching")
lookup.register(bp)

MAX_MATCHING = limits.BULK_MATCHING_MAX_TASKS
#: Which statuses each action applies to (the rest are counted and skipped).
APPLIES_TO = {
    "stop": ("queued", "running"),
    "retry": tuple(s for s in UI_STATUSES if s in TERMINAL_STATUSES),
    "delete": tuple(s for s in UI_STATUSES if s != "deleting"),
}
VERBS = {"stop": "Stop", "retry": "Retry", "delete": "Delete"}


def _action(source) -> str:
    action = source.get("action", "")
    if action not in APPLIES_TO:
        abort(400, f"Unknown bulk action {action!r}; choose one of: {', '.join(APPLIES_TO)}.")
    if action == "delete" and not user_can_delete():
        abort(403, "Deleting tasks needs the admin role.")
    return action


def _filter_args(source) -> dict[str, str]:
    """The list's own arguments (filters and sort) from a query string or a form."""
    filters = parse_filters(source)
    return {k: str(v) for k, v in filters.args(after=None, before=None, last=False).items()}


def describe(args: dict[str, str]) -> str:
    """The filter as a person reads it, e.g. ``status=failed type=bash``."""
    shown = {k: v for k, v in args.items() if k != "sort"}
    return " ".join(f"{k}={v}" for k, v in shown.items()) or "every task"


@bp.get("")
@require_role("operator")
def matching(project_id: str):
    """The preview: what the action would do to every task matching the filter."""
    orchestration.project_get(project_id)
    action = _action(request.args)
    args = _filter_args(request.args)
    query = list_query(project_id, parse_filters(request.args))
    by_status = task_lists.matching_by_status(query)
    plain = by_status if action == "delete" else task_lists.matching_by_status(
        query, plain_only=True
    )  # fmt: skip
    affected = sum(n for s, n in plain.items() if s in APPLIES_TO[action])
    return render_template(
        "tasks/bulk_matching.html",
        project_id=project_id,
        action=action,
        verb=VERBS[action],
        by_status=[(s, by_status[s]) for s in UI_STATUSES if by_status.get(s)],
        total=sum(by_status.values()),
        affected=affected,
        applies_to=APPLIES_TO[action],
        too_many=affected > MAX_MATCHING,
        limit=MAX_MATCHING,
        args=args,
        description=describe(args),
        back=url_for("projects.show", project_id=project_id, **args),
    )


@bp.post("")
@require_role("operator")
def run(project_id: str):
    orchestration.project_get(project_id)
    action = _action(request.form)
    args = _filter_args(request.form)
    back = url_for("projects.show", project_id=project_id, **args)
    query = list_query(project_id, parse_filters(request.form))
    ids = task_lists.matching_task_ids(query, APPLIES_TO[action], plain_only=action != "delete")
    if len(ids) > MAX_MATCHING:
        abort(400, f"{len(ids)} tasks match; bulk actions take at most {MAX_MATCHING}. "
                   "Narrow the filter first.")  # fmt: skip
    act = {"stop": orchestration.task_stop, "retry": orchestration.task_retry,
           "delete": deleting.delete_task}[action]  # fmt: skip
    actor = lookup.current_actor()
    done, failed = 0, []
    for task_id in ids:
        try:
            act(project_id, task_id, actor=actor)
        except (errors.OrchestrationError, ValueError, LookupError) as error:
            failed.append(f"{task_id}: {error}")
            continue
        done += 1
    description = describe(args)
    record_audit(
        f"task.bulk_{action}",
        f"{project_id}?{urlencode(args)}" if args else project_id,
        f"all matching {description}: {done} done, {len(failed)} failed",
    )
    flash(f"{VERBS[action]}: {done} of {len(ids)} tasks matching {description}.", "info")
    for message in failed[:5]:
        flash(message, "error")
    if len(failed) > 5:
        flash(f"…and {len(failed) - 5} more failed.", "error")
    return redirect(back, 303)
