"""What users do to tasks: stop, retry, rename (inline with htmx), delete, and bulk actions.

Every action is a plain form POST answered with a 303 redirect, so it works without
JavaScript; htmx requests for the inline rename get fragments instead.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from webapp import orchestration
from webapp.orchestration import errors
from webapp.web import deleting, lookup
from webapp.web.auditing import record_audit
from webapp.web.roles import require_role, user_can_delete

bp = Blueprint("tasks_actions", __name__, url_prefix="/projects/<project_id>")
lookup.register(bp)

BULK_ACTIONS = ("stop", "retry", "delete")
CONFIRMED_ACTIONS = ("stop", "delete")
MAX_BULK = 500


def task_url(project_id: str, task_id: str) -> str:
    return url_for("tasks.show", project_id=project_id, task_id=task_id)


@bp.post("/tasks/<task_id>/stop")
@require_role("operator")
def stop(project_id: str, task_id: str):
    task_id = orchestration.resolve_task_id(project_id, task_id)
    task = orchestration.task_stop(project_id, task_id, actor=lookup.current_actor())
    record_audit("task.stop", f"{project_id}/{task_id}")
    if task.is_terminal:
        flash(f"Task {task_id} {task.status}.", "info")
    else:
        flash(f"Stop requested for task {task_id}; it ends within the grace period.", "info")
    return redirect(task_url(project_id, task_id), 303)


@bp.post("/tasks/<task_id>/retry")
@require_role("operator")
def retry(project_id: str, task_id: str):
    task_id = orchestration.resolve_task_id(project_id, task_id)
    task = orchestration.task_retry(project_id, task_id, actor=lookup.current_actor())
    record_audit("task.retry", f"{project_id}/{task_id}", f"run {task.run_no}")
    flash(f"Task {task_id} queued again (run {task.run_no}).", "info")
    return redirect(task_url(project_id, task_id), 303)


def render_name(task):
    return render_template("tasks/_name.html", task=task)


def render_rename(task, value: str, error: str | None = None, status: int = 200):
    template = "tasks/_rename_form.html" if request.htmx else "tasks/rename.html"
    html = render_template(template, task=task, value=value, error=error)
    return html, (200 if request.htmx else status)


@bp.get("/tasks/<task_id>/name")
def name(project_id: str, task_id: str):
    """The task's name heading (what "Cancel" in the inline rename form restores)."""
    return render_name(orchestration.get_task_meta(project_id, task_id))


@bp.get("/tasks/<task_id>/rename")
@require_role("operator")
def rename_form(project_id: str, task_id: str):
    task_id = orchestration.resolve_task_id(project_id, task_id)
    task = orchestration.get_task_meta(project_id, task_id)
    return render_rename(task, task.name)


@bp.post("/tasks/<task_id>/rename")
@require_role("operator")
def rename(project_id: str, task_id: str):
    task_id = orchestration.resolve_task_id(project_id, task_id)
    new_name = (request.form.get("name") or "").strip()
    try:
        task = orchestration.task_rename(
            project_id, task_id, new_name, actor=lookup.current_actor()
        )
    except errors.InvalidTaskName as error:
        task = orchestration.get_task_meta(project_id, task_id)
        return render_rename(task, new_name, str(error), 422)
    except errors.TaskStateConflict as error:  # being deleted meanwhile
        task = orchestration.get_task_meta(project_id, task_id)
        return render_rename(task, new_name, str(error), 409)
    record_audit("task.rename", f"{project_id}/{task_id}", task.name)
    if request.htmx:
        return render_name(task), 200, {"HX-Trigger": "task-renamed"}
    flash(f"Renamed to {task.name}.", "info")
    return redirect(task_url(project_id, task_id), 303)


@bp.get("/tasks/<task_id>/delete")
@require_role("admin")
def delete_confirm(project_id: str, task_id: str):
    task = orchestration.get_task_meta(project_id, task_id)
    return render_template("tasks/delete.html", task=task)


@bp.post("/tasks/<task_id>/delete")
@require_role("admin")
def delete(project_id: str, task_id: str):
    """A finished task is archived at once (then its archived page); a running one is marked
    "deleting" and stopped, and the worker finishes the delete (its page shows that)."""
    task_id = orchestration.resolve_task_id(project_id, task_id)
    outcome = deleting.delete_task(project_id, task_id, actor=lookup.current_actor())
    record_audit("task.delete", f"{project_id}/{task_id}", outcome.summary)
    if outcome.pending:
        flash(f"Task {task_id} is being deleted: it is stopped first, then its logs and "
              "snapshot are archived.", "info")  # fmt: skip
        return redirect(task_url(project_id, task_id), 303)
    for warning in outcome.warnings:
        flash(warning, "warning")
    flash(f"Task {task_id} deleted; its logs and snapshot are in the archive.", "info")
    if outcome.archive_id:
        return redirect(
            url_for("archive.show", project_id=project_id, archive_id=outcome.archive_id), 303
        )
    if outcome.gone:
        return redirect(url_for("archive.index", project_id=project_id, q=task_id), 303)
    return redirect(url_for("projects.show", project_id=project_id), 303)


def selected_tasks(project_id: str) -> list:
    """The tasks ticked in the list, in the list's order; gone ones are skipped."""
    ids = list(dict.fromkeys(request.form.getlist("task")))[:MAX_BULK]
    tasks = []
    for task_id in ids:
        try:
            tasks.append(orchestration.get_task_meta(project_id, task_id))
        except LookupError:
            continue
    return tasks


def run_bulk(project_id: str, action: str, tasks: list) -> None:
    act = {"stop": orchestration.task_stop, "retry": orchestration.task_retry,
           "delete": deleting.delete_task}[action]  # fmt: skip
    done, pending, failed = [], [], []
    for task in tasks:
        try:
            outcome = act(project_id, task.task_id, actor=lookup.current_actor())
        except (errors.OrchestrationError, ValueError, LookupError) as error:
            failed.append(f"{task.task_id}: {error}")
            continue
        detail = "bulk"
        if action == "delete":
            detail = f"bulk; {outcome.summary}"
            if outcome.pending:
                pending.append(task.task_id)
                record_audit("task.delete", f"{project_id}/{task.task_id}", detail)
                continue
        done.append(task.task_id)
        record_audit(f"task.{action}", f"{project_id}/{task.task_id}", detail)
    verb = {"stop": "Stopped", "retry": "Queued again", "delete": "Deleted"}[action]
    if done:
        flash(f"{verb} {len(done)} task{'s' if len(done) != 1 else ''}: {', '.join(done)}.", "info")
    if pending:
        flash(f"Deleting {len(pending)} running task{'s' if len(pending) != 1 else ''} once "
              f"stopped: {', '.join(pending)}.", "info")  # fmt: skip
    for message in failed:
        flash(message, "error")


@bp.post("/bulk")
@require_role("operator")
def bulk(project_id: str):
    """Bulk stop/retry/delete; stop and delete first show what they will do, to confirm."""
    orchestration.project_get(project_id)
    action = request.form.get("action", "")
    if action not in BULK_ACTIONS:
        abort(400, f"Unknown bulk action {action!r}; choose one of: {', '.join(BULK_ACTIONS)}.")
    if action == "delete" and not user_can_delete():
        abort(403, "Deleting tasks needs the admin role.")
    back = lookup.safe_next(
        request.form.get("next"), url_for("projects.show", project_id=project_id)
    )
    tasks = selected_tasks(project_id)
    if not tasks:
        flash("Select at least one task first.", "error")
        return redirect(back, 303)
    if action in CONFIRMED_ACTIONS and request.form.get("confirm") != "yes":
        return render_template(
            "tasks/bulk_confirm.html", project_id=project_id, action=action, tasks=tasks, back=back
        )
    run_bulk(project_id, action, tasks)
    return redirect(back, 303)
