"""Projects: the overview with counts, creating one, and a project's task list."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from webapp import orchestration
from webapp.orchestration import errors, llm, task_lists
from webapp.web import lookup, usage_columns
from webapp.web.auditing import record_audit
from webapp.web.forms import ProjectForm, attach_error
from webapp.web.listing import PAGE_SIZE, Pager, TaskFilters, parse_filters
from webapp.web.roles import require_role

bp = Blueprint("projects", __name__)
lookup.register(bp)

NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/projects")
def index():
    return render_template("projects/index.html", projects=orchestration.project_list(),
                           form=ProjectForm())  # fmt: skip


@bp.post("/projects")
@require_role("admin")
def create():
    form = ProjectForm(request.form)
    if form.validate():
        try:
            project = orchestration.project_create(
                form.project_id.data, **form.values(), actor=lookup.current_actor()
            )
        except errors.InvalidTaskName as error:
            attach_error(form, "name_categories", str(error))
        except (ValueError, errors.OrchestrationError) as error:
            attach_error(form, "project_id", str(error))
        else:
            record_audit("project.create", project.id, f"name {project.name!r}")
            return redirect(url_for("projects.show", project_id=project.id), 303)
    html = render_template(
        "projects/index.html", projects=orchestration.project_list(), form=form, open_form=True
    )
    return html, 422


def list_query(project_id: str, filters: TaskFilters):
    """The orchestration's query for the URL's filters (400 naming what was wrong)."""
    return task_lists.build_query(
        project_id,
        status=filters.status,
        type=filters.type,
        started_by=filters.started_by,
        exit_code=filters.exit,
        workflow=filters.workflow,
        since=filters.since,
        until=filters.until,
        search=filters.q,
        sort=filters.sort,
    )


def list_context(project_id: str, counts: dict[str, int] | None = None) -> dict:
    """Everything the task list (page and fragments) renders, from the URL's filters."""
    filters = parse_filters(request.args)
    version = orchestration.project_version(project_id)
    if filters.usage_sort:  # tokens or cost: pages by number (see llm.task_list_by_usage)
        return _usage_context(project_id, filters, version, counts)
    page = task_lists.task_page(
        list_query(project_id, filters),
        after=filters.after,
        before=filters.before,
        last=filters.last,
        limit=PAGE_SIZE,
    )
    pager = Pager.for_keyset(page, filters)
    return {
        **usage_columns.context(project_id, page.items),
        "project_id": project_id,
        "filters": filters,
        "page": page,
        "pager": pager,
        "version": version,
        "counts": orchestration.counts_by_status(project_id) if counts is None else counts,
    }


def _usage_context(project_id: str, filters: TaskFilters, version, counts) -> dict:
    page = llm.task_list_by_usage(
        project_id, filters.usage_sort, status=filters.status, type=filters.type,
        search=filters.q, limit=PAGE_SIZE, offset=filters.offset,
    )  # fmt: skip
    pager = Pager(
        total=page.total,
        capped=page.total_capped,
        shown=len(page.items),
        next_cursor=str(filters.page + 1) if page.has_next else None,
        prev_cursor=str(filters.page - 1) if filters.page > 1 else None,
        at_start=filters.page == 1,
        numbered=True,
    )
    return {
        **usage_columns.context(project_id, page.items),
        "project_id": project_id,
        "filters": filters,
        "page": page,
        "pager": pager,
        "version": version,
        "counts": orchestration.counts_by_status(project_id) if counts is None else counts,
    }


@bp.get("/projects/<project_id>")
def show(project_id: str):
    project = orchestration.project_get(project_id)
    context = list_context(project_id, counts=project.counts)
    return render_template("projects/show.html", project=project, **context)


@bp.get("/projects/<project_id>/rows")
def rows(project_id: str):
    """The polled task rows: 204 while the project's version is the one the page has."""
    if request.args.get("v") == str(orchestration.project_version(project_id)):
        return "", 204, NO_STORE
    html = render_template("tasks/_rows_fragment.html", **list_context(project_id))
    return html, 200, {**NO_STORE, "HX-Trigger": "tasks-changed"}
