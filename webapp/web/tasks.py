"""Task pages: the new-task form and a task's page (its status, history, command and log)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from webapp import orchestration
from webapp.orchestration import errors
from webapp.orchestration.naming import generate_task_name
from webapp.web import lookup, models, task_diff, tasks_live
from webapp.web.auditing import record_audit
from webapp.web.forms import TaskForm, attach_error
from webapp.web.roles import require_role

bp = Blueprint("tasks", __name__, url_prefix="/projects/<project_id>/tasks")
lookup.register(bp)


def name_placeholder(project) -> str:
    try:
        return generate_task_name(project.id, project.name_categories)
    except (ValueError, errors.OrchestrationError):
        return ""


def render_new(project, form: TaskForm, status: int = 200):
    html = render_template(
        "tasks/new.html", project=project, form=form, placeholder=name_placeholder(project)
    )
    return html, status


@bp.get("/new")
@require_role("operator")
def new(project_id: str):
    project = orchestration.project_get(project_id)
    form = TaskForm(request.args) if request.args else TaskForm()
    return render_new(project, form)


@bp.post("/new")
@require_role("operator")
def create(project_id: str):
    project = orchestration.project_get(project_id)
    form = TaskForm(request.form)
    if form.validate():
        try:
            task = orchestration.task_new(project_id, **form.values(), actor=lookup.current_actor())
        except errors.InvalidTaskName as error:
            attach_error(form, "name", str(error))
        except (ValueError, errors.OrchestrationError) as error:
            attach_error(form, "payload", str(error))
        else:
            record_audit("task.create", task.ref, f"{task.type} task {task.name!r}")
            return redirect(url_for("tasks.show", project_id=project_id, task_id=task.task_id), 303)
    return render_new(project, form, 422)


def resolve(project_id: str, task_ref: str) -> str:
    """The full ID for an ID or unique prefix (ambiguity and absence raise, see lookup)."""
    return orchestration.resolve_task_id(project_id, task_ref)


@bp.get("/<task_id>")
def show(project_id: str, task_id: str):
    full_id = task_id if orchestration.is_task_id(task_id) else resolve(project_id, task_id)
    if full_id != task_id:
        args = {**request.args.to_dict(), "project_id": project_id, "task_id": full_id}
        return redirect(url_for("tasks.show", **args))
    detail = orchestration.task_detail(project_id, full_id)
    task = detail.task
    panel = tasks_live.task_log_panel(task)
    return render_template(
        "tasks/show.html",
        task=task,
        history=detail.history,
        log=panel,
        result_html=tasks_live.result_html(task),
        diff=task_diff.workspace_diff(task),
        budget=models.task_budget(task),
        diff_html=task_diff.diff_html,
        counts=orchestration.counts_by_status(project_id),
    )
