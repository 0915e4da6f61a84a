"""Workflows (DAG graphs) of a project: the list, the new-workflow form, a workflow's page
with its members' live statuses, and cancel/retry.

A workflow page polls like a task page: with the project's version (a member's change bumps
it), answered 204 while unchanged; a finished workflow's fragment carries no trigger.
"""

from __future__ import annotations

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for

from webapp import orchestration
from webapp.orchestration import errors, llm
from webapp.web import graph_view, lookup
from webapp.web.auditing import record_audit
from webapp.web.forms import GraphForm, attach_error
from webapp.web.graph_definition import DefinitionInvalid, check_definition, parse_text
from webapp.web.roles import require_role

bp = Blueprint("graphs", __name__, url_prefix="/projects/<project_id>/graphs")
lookup.register(bp)

NO_STORE = {"Cache-Control": "no-store"}
LIST_LIMIT = 50
EXAMPLE = {
    "title": "build and test",
    "tasks": [
        {"key": "fetch", "payload": "git pull"},
        {"key": "test", "payload": "make test", "after": ["fetch"], "timeout": 600},
        {"key": "report", "payload": "make report", "after": ["test"], "finally": True},
    ],
}
EXAMPLE_TEXT = json.dumps(EXAMPLE, indent=2)


@bp.get("")
def index(project_id: str):
    project = orchestration.project_get(project_id)
    graphs = orchestration.graph_list(project_id, limit=LIST_LIMIT)
    return render_template("graphs/index.html", project=project, graphs=graphs, limit=LIST_LIMIT)


def render_new(project, form: GraphForm, status: int = 200):
    html = render_template("graphs/new.html", project=project, form=form, example=EXAMPLE_TEXT)
    return html, status


@bp.get("/new")
@require_role("operator")
def new(project_id: str):
    return render_new(orchestration.project_get(project_id), GraphForm())


@bp.post("/new")
@require_role("operator")
def create(project_id: str):
    project = orchestration.project_get(project_id)
    form = GraphForm(request.form)
    if form.validate():
        try:
            definition = check_definition(parse_text(form.definition.data), title=form.title.data)
            graph = orchestration.graph_new(project_id, definition, actor=lookup.current_actor())
        except DefinitionInvalid as error:
            form.definition.errors = [str(problem) for problem in error.problems]
        except errors.InvalidTaskName as error:
            attach_error(form, "definition", f"A task name: {error}")
        except (ValueError, errors.OrchestrationError) as error:
            attach_error(form, "definition", str(error))
        else:
            record_audit("graph.create", f"{project_id}/{graph.graph_id}", graph_detail(graph))
            return redirect(graph_url(project_id, graph.graph_id), 303)
    return render_new(project, form, 422)


def graph_detail(graph) -> str:
    return f"{graph.title!r}, {len(graph.members)} task{'s' if len(graph.members) != 1 else ''}"


def graph_url(project_id: str, graph_id: str) -> str:
    return url_for("graphs.show", project_id=project_id, graph_id=graph_id)


def live_context(project_id: str, graph_id: str) -> dict:
    """What the live part of a workflow page shows (the page and its poll render it)."""
    version = orchestration.project_version(project_id)
    graph = orchestration.graph_get(project_id, graph_id)
    return {
        "graph": graph,
        "members": graph_view.members(graph),
        "member_counts": graph.counts,
        "usage": llm.graph_usage(project_id, graph_id),
        "version": version,
        "counts": orchestration.counts_by_status(project_id),
    }


@bp.get("/<graph_id>")
def show(project_id: str, graph_id: str):
    project = orchestration.project_get(project_id)
    context = live_context(project_id, graph_id)
    return render_template("graphs/show.html", project=project, **context)


@bp.get("/<graph_id>/live")
def live(project_id: str, graph_id: str):
    """The polled part of the page; 204 while the project's version is the one shown."""
    if request.args.get("v") == str(orchestration.project_version(project_id)):
        return "", 204, NO_STORE
    html = render_template("graphs/_live_fragment.html", **live_context(project_id, graph_id))
    return html, 200, {**NO_STORE, "HX-Trigger": "graph-changed"}


@bp.post("/<graph_id>/cancel")
@require_role("operator")
def cancel(project_id: str, graph_id: str):
    graph = orchestration.graph_cancel(project_id, graph_id, actor=lookup.current_actor())
    record_audit("graph.cancel", f"{project_id}/{graph_id}", f"now {graph.status}")
    if graph.is_terminal:
        flash(f"Workflow {graph.title!r} cancelled.", "info")
    else:
        flash(f"Cancel requested for workflow {graph.title!r}; its running tasks are stopped.",
              "info")  # fmt: skip
    return redirect(graph_url(project_id, graph_id), 303)


@bp.post("/<graph_id>/retry")
@require_role("operator")
def retry(project_id: str, graph_id: str):
    graph = orchestration.graph_retry(project_id, graph_id, actor=lookup.current_actor())
    record_audit("graph.retry", f"{project_id}/{graph_id}", "failed and blocked tasks rerun")
    flash(f"Workflow {graph.title!r} queued again: completed tasks are kept, the failed and "
          "blocked ones run again.", "info")  # fmt: skip
    return redirect(graph_url(project_id, graph_id), 303)
