"""Saved workflows of a project: the list, the definition form (JSON or YAML, a picture
preview before saving), a workflow's page with its versions and runs, run, edit, archive.
Actions on one run (run again, rerun from a node, delete) are here too.
"""

from __future__ import annotations

import yaml
from flask import Blueprint, flash, redirect, render_template, request, url_for

from webapp import orchestration
from webapp.orchestration import errors, workflows
from webapp.web import graph_view, lookup
from webapp.web.auditing import record_audit
from webapp.web.display import TASK_TYPES
from webapp.web.forms import GraphForm, attach_error
from webapp.web.graph_definition import DefinitionInvalid, check_definition, parse_text, to_yaml
from webapp.web.roles import require_role

bp = Blueprint("workflows", __name__, url_prefix="/projects/<project_id>/workflows")
runs_bp = Blueprint("workflow_runs", __name__, url_prefix="/projects/<project_id>/graphs")
lookup.register(bp)
lookup.register(runs_bp)

EXAMPLE = """title: build and test
tasks:
  - key: fetch
    payload: git pull
  - key: test
    payload: make test
    after: [fetch]
    timeout: 600
  - key: report
    payload: make report
    after: [test]
    finally: true
"""


def workflow_url(project_id: str, workflow_id: str) -> str:
    return url_for("workflows.show", project_id=project_id, workflow_id=workflow_id)


def run_url(project_id: str, graph_id: str) -> str:
    return url_for("graphs.show", project_id=project_id, graph_id=graph_id)


@bp.get("")
def index(project_id: str):
    project = orchestration.project_get(project_id)
    return render_template("workflows/index.html", project=project,
                           workflows=workflows.workflow_list(project_id))  # fmt: skip


def render_form(project, form: GraphForm, *, workflow=None, preview=None, status: int = 200):
    html = render_template("workflows/form.html", project=project, form=form,
                           workflow=workflow, example=EXAMPLE, task_types=TASK_TYPES,
                           builder_keys=_keys_of(form.definition.data or ""),
                           **(preview or {}))  # fmt: skip
    return html, status


def _keys_of(text: str) -> list[str]:
    """The task keys in a definition's text, as far as it can be read (for the builder)."""
    try:
        data = parse_text(text)
    except DefinitionInvalid:
        return []
    tasks = data.get("tasks") if isinstance(data, dict) else data
    if not isinstance(tasks, list):
        return []
    return [t["key"] for t in tasks if isinstance(t, dict) and isinstance(t.get("key"), str)]


def _with_built_task(form: GraphForm) -> str | None:
    """The definition text with the builder's task added, as YAML; None when the text
    cannot be read (its problems are then attached to the form)."""
    text = form.definition.data or ""
    try:
        data = parse_text(text) if text.strip() else {"tasks": []}
    except DefinitionInvalid as error:
        form.definition.errors = [str(problem) for problem in error.problems]
        return None
    if isinstance(data, list):
        data = {"tasks": data}
    if not isinstance(data, dict) or not isinstance(data.get("tasks", []), list):
        form.definition.errors = ["definition: must be a mapping with a list of tasks"]
        return None
    data.setdefault("title", form.title.data or "workflow")
    field = request.form.get
    task = {"key": field("b_key", "").strip(), "payload": field("b_payload", "")}
    if field("b_type", "bash") != "bash":
        task["type"] = field("b_type")
    for name in ("name", "description"):
        if field(f"b_{name}", "").strip():
            task[name] = field(f"b_{name}").strip()
    if field("b_timeout", "").strip():
        try:
            task["timeout"] = float(field("b_timeout"))
        except ValueError:
            task["timeout"] = field("b_timeout")  # check_definition names the problem
    after = request.form.getlist("b_after")
    if after:
        task["after"] = after
    if field("b_finally"):
        task["finally"] = True
    if field("b_optional"):
        task["required"] = False
    data["tasks"] = [*data.get("tasks", []), task]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)


@bp.get("/new")
@require_role("operator")
def new(project_id: str):
    return render_form(orchestration.project_get(project_id), GraphForm())


@bp.post("/new")
@require_role("operator")
def create(project_id: str):
    return _submit(project_id, None)


@bp.get("/<workflow_id>/edit")
@require_role("operator")
def edit(project_id: str, workflow_id: str):
    workflow = workflows.workflow_get(project_id, workflow_id)
    form = GraphForm(data={"title": workflow.name, "definition": to_yaml(workflow.definition)})
    return render_form(orchestration.project_get(project_id), form, workflow=workflow)


@bp.post("/<workflow_id>/edit")
@require_role("operator")
def update(project_id: str, workflow_id: str):
    return _submit(project_id, workflows.workflow_get(project_id, workflow_id))


def checked(form: GraphForm):
    """The form's definition checked, or None with every problem attached to the form."""
    if not form.validate():
        return None
    try:
        return check_definition(parse_text(form.definition.data), title=form.title.data)
    except DefinitionInvalid as error:
        form.definition.errors = [str(problem) for problem in error.problems]
    return None


def _submit(project_id: str, workflow):
    """Preview, save (a new workflow or version) or save and run; the input is kept on error."""
    project = orchestration.project_get(project_id)
    form = GraphForm(request.form)
    action = request.form.get("action", "run")
    building = action == "add"
    if building:
        built = _with_built_task(form)
        if built is None:
            return render_form(project, form, workflow=workflow, status=422)
        form.definition.data = built
        action = "preview"
    definition = checked(form)
    if definition is None:
        return render_form(project, form, workflow=workflow, status=422)
    if action == "preview":
        graph = graph_view.preview_graph(project_id, definition)
        preview = {"graph": graph, **graph_view.picture_context(graph, task_url="#task-")}
        if building:  # the builder's view of the definition is its YAML
            form.definition.data = to_yaml(definition)
        return render_form(project, form, workflow=workflow, preview=preview)
    actor = lookup.current_actor()
    try:
        saved = workflows.workflow_save(
            project_id, definition, workflow_id=workflow.workflow_id if workflow else None,
            name=form.title.data or None, actor=actor,
        )  # fmt: skip
        target = f"{project_id}/{saved.workflow_id}"
        record_audit("workflow.save", target, f"{saved.name!r} version {saved.latest_version}")
        if action != "run":
            flash(f"Workflow {saved.name!r} saved as version {saved.latest_version}.", "info")
            return redirect(workflow_url(project_id, saved.workflow_id), 303)
        graph = workflows.workflow_run(project_id, saved.workflow_id, actor=actor)
    except errors.InvalidTaskName as error:
        attach_error(form, "definition", f"A task name: {error}")
    except (ValueError, errors.OrchestrationError) as error:
        attach_error(form, "definition", str(error))
    else:
        record_audit("graph.create", f"{project_id}/{graph.graph_id}",
                     f"{graph.title!r}, {len(graph.members)} tasks")  # fmt: skip
        return redirect(run_url(project_id, graph.graph_id), 303)
    return render_form(project, form, workflow=workflow, status=422)


@bp.get("/<workflow_id>")
def show(project_id: str, workflow_id: str):
    project = orchestration.project_get(project_id)
    version = request.args.get("version", type=int)
    workflow = workflows.workflow_get(project_id, workflow_id, version=version)
    graph = graph_view.preview_graph(project_id, workflow.definition)
    return render_template(
        "workflows/show.html", project=project, workflow=workflow,
        shown_version=version or workflow.latest_version, yaml_text=to_yaml(workflow.definition),
        runs=workflows.workflow_runs(project_id, workflow_id), graph=graph,
        **graph_view.picture_context(graph, task_url="#task-"),
    )  # fmt: skip


@bp.post("/<workflow_id>/run")
@require_role("operator")
def run(project_id: str, workflow_id: str):
    version = request.form.get("version", type=int)
    graph = workflows.workflow_run(project_id, workflow_id, version=version,
                                   actor=lookup.current_actor())  # fmt: skip
    record_audit("workflow.run", f"{project_id}/{workflow_id}", f"run {graph.graph_id}")
    return redirect(run_url(project_id, graph.graph_id), 303)


@bp.post("/<workflow_id>/delete")
@require_role("admin")
def delete(project_id: str, workflow_id: str):
    workflow = workflows.workflow_get(project_id, workflow_id)
    workflows.workflow_archive(project_id, workflow_id, actor=lookup.current_actor())
    record_audit("workflow.delete", f"{project_id}/{workflow_id}", repr(workflow.name))
    flash(f"Workflow {workflow.name!r} deleted; its runs and their tasks are kept.", "info")
    return redirect(url_for("workflows.index", project_id=project_id), 303)


@runs_bp.post("/<graph_id>/again")
@require_role("operator")
def run_again(project_id: str, graph_id: str):
    graph = workflows.graph_run_again(project_id, graph_id, actor=lookup.current_actor())
    record_audit("graph.again", f"{project_id}/{graph_id}", f"new run {graph.graph_id}")
    return redirect(run_url(project_id, graph.graph_id), 303)


@runs_bp.post("/<graph_id>/rerun")
@require_role("operator")
def rerun_from(project_id: str, graph_id: str):
    task_id = request.form.get("task", "")
    graph = workflows.graph_rerun_from(project_id, graph_id, task_id,
                                       actor=lookup.current_actor())  # fmt: skip
    record_audit("graph.rerun", f"{project_id}/{graph_id}", f"from {task_id}: {graph.graph_id}")
    flash(f"Rerunning from {task_id}: the completed tasks before it are kept.", "info")
    return redirect(run_url(project_id, graph.graph_id), 303)


@runs_bp.post("/<graph_id>/delete")
@require_role("admin")
def delete_run(project_id: str, graph_id: str):
    graph = workflows.graph_delete(project_id, graph_id, actor=lookup.current_actor())
    record_audit("graph.delete", f"{project_id}/{graph_id}", f"{len(graph.members)} tasks")
    flash(f"Workflow run {graph.title!r} deleted; its tasks are in the archive.", "info")
    return redirect(url_for("graphs.index", project_id=project_id), 303)
