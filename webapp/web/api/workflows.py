"""API: saved workflows (save, new version, list, get, run, runs, delete) and the actions on
one run (run again, rerun from a member). Definitions are objects or JSON/YAML text, checked
like the dashboard's form, every problem named."""

from __future__ import annotations

from flask_login import current_user

from webapp.orchestration import errors, workflows
from webapp.web.api import api, error_json
from webapp.web.api.graphs import GRAPH, PATHS, graph_json, summary_json
from webapp.web.api.inputs import MAX_INT, Body, query_int, to_json
from webapp.web.api.registry import Param
from webapp.web.api.schemas import PROJECT_ID, RERUN, WORKFLOW_SAVE, ref
from webapp.web.auditing import record_audit
from webapp.web.graph_definition import DefinitionInvalid, check_definition, parse_text, to_yaml

WORKFLOWS = "/projects/<project>/workflows"
WORKFLOW = f"{WORKFLOWS}/<workflow>"
WORKFLOW_PATHS = {"project": PROJECT_ID, "workflow": {"type": "string", "maxLength": 64}}
LIMIT = Param("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "At most this many.")


def workflow_json(workflow, *, full: bool = True) -> dict:
    out = to_json(workflow)
    if full:
        out["yaml"] = to_yaml(workflow.definition)
    else:
        out.pop("definition", None)
        out.pop("versions", None)
    return out


def _definition(body: Body):
    """The body's checked definition, or a 422 naming every problem (text that fits the
    schema but is not a workflow: bad YAML, unknown keys, cycles)."""
    raw = body.data.get("definition")
    try:
        data = parse_text(raw) if isinstance(raw, str) else raw
        return check_definition(data), None
    except DefinitionInvalid as error:
        problems = [{"where": p.where, "message": p.message} for p in error.problems]
        return None, error_json(422, "Unprocessable Content", str(error), problems=problems)


def _save(project: str, workflow: str | None):
    body = Body(tuple(WORKFLOW_SAVE["properties"]))
    name = body.text("name", max_length=200)
    definition, problem = _definition(body)
    if problem:
        return problem
    try:
        saved = workflows.workflow_save(project, definition, workflow_id=workflow, name=name,
                                        actor=current_user.username)  # fmt: skip
    except errors.InvalidTaskRequest as error:  # fits the schema, not the rules
        return error_json(422, "Unprocessable Content", str(error))
    record_audit("workflow.save", f"{project}/{saved.workflow_id}",
                 f"{saved.name!r} version {saved.latest_version}")  # fmt: skip
    return workflow_json(saved), 201


@api.route(WORKFLOWS, role="viewer", path_params=WORKFLOW_PATHS, query=(LIMIT,),
           summary="A project's saved workflows, most recently changed first.",
           response={"type": "array", "items": ref("Workflow")})  # fmt: skip
def list_workflows(project: str):
    limit = query_int("limit", 100, minimum=1, maximum=500)
    return [workflow_json(w, full=False) for w in workflows.workflow_list(project, limit=limit)]


@api.route(
    WORKFLOWS,
    "POST",
    role="operator",
    path_params=WORKFLOW_PATHS,
    body=WORKFLOW_SAVE,
    response=ref("Workflow"),
    status=201,
    errors={422: "The definition fits the schema but is not a workflow: each problem named."},
    summary="Save a new workflow (version 1) from a definition (object, JSON, YAML).",
)
def create_workflow(project: str):
    return _save(project, None)


@api.route(WORKFLOW, role="viewer", path_params=WORKFLOW_PATHS, response=ref("Workflow"),
           query=(Param("version", {"type": "integer", "minimum": 1}, "A version (latest)."),),
           summary="A saved workflow: its definition (also as YAML) and versions.")  # fmt: skip
def get_workflow(project: str, workflow: str):
    version = query_int("version", 0, minimum=1, maximum=MAX_INT) or None
    return workflow_json(workflows.workflow_get(project, workflow, version=version))


@api.route(f"{WORKFLOW}/versions", "POST", role="operator", path_params=WORKFLOW_PATHS,
           body=WORKFLOW_SAVE, response=ref("Workflow"), status=201,
           errors={422: "The definition fits the schema but is not a workflow."},
           summary="Save an edited definition as the workflow's next version (an unchanged "
           "one makes none).")  # fmt: skip
def save_version(project: str, workflow: str):
    workflows.workflow_get(project, workflow)  # 404 before reading the body
    return _save(project, workflow)


@api.route(WORKFLOW, "DELETE", role="admin", path_params=WORKFLOW_PATHS, status=204,
           summary="Delete a saved workflow (its runs and their tasks are kept).")  # fmt: skip
def delete_workflow(project: str, workflow: str):
    workflows.workflow_archive(project, workflow, actor=current_user.username)
    record_audit("workflow.delete", f"{project}/{workflow}", "")
    return "", 204


@api.route(f"{WORKFLOW}/runs", role="viewer", path_params=WORKFLOW_PATHS, query=(LIMIT,),
           response={"type": "array", "items": ref("Graph")},
           summary="A saved workflow's runs, newest first.")  # fmt: skip
def list_runs(project: str, workflow: str):
    limit = query_int("limit", 100, minimum=1, maximum=500)
    return [summary_json(g) for g in workflows.workflow_runs(project, workflow, limit=limit)]


@api.route(f"{WORKFLOW}/runs", "POST", role="operator", path_params=WORKFLOW_PATHS,
           query=(Param("version", {"type": "integer", "minimum": 1}, "A version (latest)."),),
           response=ref("Graph"), status=201,
           summary="Start a new run of a saved workflow.")  # fmt: skip
def start_run(project: str, workflow: str):
    version = query_int("version", 0, minimum=1, maximum=MAX_INT) or None
    graph = workflows.workflow_run(project, workflow, version=version,
                                   actor=current_user.username)  # fmt: skip
    record_audit("workflow.run", f"{project}/{workflow}", f"run {graph.graph_id}")
    return graph_json(graph), 201


@api.route(
    f"{GRAPH}/again",
    "POST",
    role="operator",
    path_params=PATHS,
    response=ref("Graph"),
    status=201,
    summary="Run a finished run again: a new run of the same definition.",
)
def run_again(project: str, graph: str):
    new = workflows.graph_run_again(project, graph, actor=current_user.username)
    record_audit("graph.again", f"{project}/{graph}", f"new run {new.graph_id}")
    return graph_json(new), 201


@api.route(f"{GRAPH}/rerun", "POST", role="operator", path_params=PATHS, body=RERUN,
           response=ref("Graph"), status=201,
           summary="Rerun a finished run from a member (its task ID): it and everything "
           "downstream run again, completed upstream members are kept.")  # fmt: skip
def rerun_from(project: str, graph: str):
    body = Body(tuple(RERUN["properties"]))
    task = body.text("task", required=True, max_length=64)
    new = workflows.graph_rerun_from(project, graph, task, actor=current_user.username)
    record_audit("graph.rerun", f"{project}/{graph}", f"from {task}: {new.graph_id}")
    return graph_json(new), 201
