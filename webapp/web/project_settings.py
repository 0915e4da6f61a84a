"""A project's settings page (edit) and its deletion (a confirmation naming what goes).

Admins only. Deleting archives every task of the project first (orchestration refuses while
tasks or workflows are queued or running, and the page says which).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from webapp import orchestration
from webapp.orchestration import errors, projects
from webapp.orchestration.projects import changed_settings, describe_changes
from webapp.web import lookup
from webapp.web.auditing import record_audit
from webapp.web.forms import ProjectForm, attach_error
from webapp.web.roles import require_role

bp = Blueprint("project_settings", __name__, url_prefix="/projects/<project_id>")
lookup.register(bp)


class ProjectSettingsForm(ProjectForm):
    """The project form without the ID (which never changes)."""

    project_id = None


def _form_for(project: projects.Project) -> ProjectSettingsForm:
    env = "\n".join(f"{name}={value}" for name, value in project.env.items())
    return ProjectSettingsForm(
        data={
            "name": project.name if project.name != project.id else "",
            "shutdown_grace": project.shutdown_grace,
            "max_concurrent": project.max_concurrent,
            "name_categories": ", ".join(project.name_categories or []),
            "git_repo": project.git_repo or "",
            "env": env,
        }
    )


@bp.get("/settings")
@require_role("admin")
def edit(project_id: str):
    project = orchestration.project_get(project_id)
    return render_template("projects/settings.html", project=project, form=_form_for(project))


@bp.post("/settings")
@require_role("admin")
def update(project_id: str):
    before = orchestration.project_get(project_id)
    form = ProjectSettingsForm(request.form)
    if form.validate():
        values = form.values()
        values["env"] = values["env"] or {}
        try:
            after = orchestration.project_update(project_id, actor=lookup.current_actor(), **values)
        except errors.InvalidTaskName as error:
            attach_error(form, "name_categories", str(error))
        except errors.InvalidProject as error:
            attach_error(form, "", str(error))
        else:
            record_audit(
                "project.update", project_id, describe_changes(changed_settings(before, after))
            )
            flash(f"Settings of {after.name} saved.", "info")
            return redirect(url_for("project_settings.edit", project_id=project_id), 303)
    html = render_template("projects/settings.html", project=before, form=form)
    return html, 422


@bp.get("/delete")
@require_role("admin")
def delete_confirm(project_id: str):
    project = orchestration.project_get(project_id)
    plan = orchestration.project_delete_plan(project_id)
    return render_template("projects/delete.html", project=project, plan=plan)


@bp.post("/delete")
@require_role("admin")
def delete(project_id: str):
    project = orchestration.project_get(project_id)
    plan = orchestration.project_delete_plan(project_id)
    if plan.blocked:
        html = render_template("projects/delete.html", project=project, plan=plan)
        return html, 409
    result = orchestration.project_delete(project_id, actor=lookup.current_actor())
    detail = f"{result.archived} task(s) archived"
    if result.warnings:
        detail += "; warnings: " + "; ".join(result.warnings)
    record_audit("project.delete", project_id, detail)
    for warning in result.warnings:
        flash(warning, "warning")
    flash(f"Project {project_id} deleted; {result.archived} task(s) archived.", "info")
    return redirect(url_for("projects.index"), 303)
