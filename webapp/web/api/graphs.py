"""API: workflows (DAG graphs): create from a definition (which queues it), list, get, run,
cancel and retry. Definitions are checked like the dashboard's form, every problem named.
"""

from __future__ import annotations

from flask_login import current_user

from webapp import orchestration
from webapp.orchestration import llm
from webapp.web import graph_view
from webapp.web.api import api, error_json
from webapp.web.api.inputs import Body, query_int, to_json
from webapp.web.api.registry import Param
from webapp.web.api.schemas import GRAPH_CREATE, PROJECT_ID, ref
from webapp.web.api.tasks import task_json
from webapp.web.auditing import record_audit
from webapp.web.graph_definition import DefinitionInvalid, check_definition

GRAPHS = "/projects/<project>/graphs"
GRAPH = f"{GRAPHS}/<graph>"
PATHS = {"project": PROJECT_ID, "graph": {"type": "string", "maxLength": 64}}
SUMMARY_ONLY = ("members", "dependencies", "finally_tasks", "optional_tasks", "blocked_by")
ALREADY_QUEUED = ("queued", "running")


def graph_json(graph) -> dict:
    """A workflow with its members, their order and what blocked the blocked ones."""
    out = to_json(graph, ("is_terminal",))
    out["members"] = [task_json(task) for task in graph.members]
    out["usage"] = llm.graph_usage(graph.project_id, graph.graph_id)  # summed over members
    out["order"] = graph_view.dependency_order(graph)
    out["blocked_by"] = {
        member.task.task_id: [parent.task_id for parent in member.blocked_by]
        for member in graph_view.members(graph)
        if member.blocked_by
    }
    return out


def summary_json(graph) -> dict:
    out = to_json(graph, ("is_terminal",))
    for name in SUMMARY_ONLY:
        out.pop(name, None)
    return out


def _target(project: str, graph) -> str:
    return f"{project}/{graph.graph_id}"


@api.route(
    GRAPHS,
    role="viewer",
    path_params=PATHS,
    query=(
        Param("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Most workflows (50)."),
    ),
    summary="A project's workflows, newest first (without members: get one for those).",
    response={"type": "array", "items": ref("Graph")},
)
def list_graphs(project: str):
    limit = query_int("limit", 50, minimum=1, maximum=500)
    return [summary_json(graph) for graph in orchestration.graph_list(project, limit=limit)]


@api.route(
    GRAPHS,
    "POST",
    role="operator",
    path_params=PATHS,
    body=GRAPH_CREATE,
    response=ref("Graph"),
    status=201,
    errors={
        422: "The definition fits the schema but its tasks do not fit together (unknown "
        "dependencies, cycles, duplicate keys): each problem is listed."
    },  # fmt: skip
    summary="Create a workflow from its definition; it is queued to run at once.",
)
def create_graph(project: str):
    body = Body(tuple(GRAPH_CREATE["properties"]))
    try:
        definition = check_definition(body.data)
    except DefinitionInvalid as error:
        problems = [{"where": p.where, "message": p.message} for p in error.problems]
        return error_json(422, "Unprocessable Content", str(error), problems=problems)
    graph = orchestration.graph_new(project, definition, actor=current_user.username)
    detail = f"{graph.title!r}, {len(graph.members)} tasks"
    record_audit("graph.create", _target(project, graph), detail)
    return graph_json(graph), 201


@api.route(
    GRAPH,
    role="viewer",
    path_params=PATHS,
    response=ref("Graph"),
    summary="One workflow with its member tasks (in definition order) and their dependencies.",
)
def get_graph(project: str, graph: str):
    return graph_json(orchestration.graph_get(project, graph))


@api.route(
    f"{GRAPH}/run",
    "POST",
    role="operator",
    path_params=PATHS,
    response=ref("Graph"),
    status=202,
    summary="Make a workflow run: a queued or running one is left as it is; a failed one is "
    "queued again (completed tasks kept); a completed or cancelled one is a 409.",
)
def run_graph(project: str, graph: str):
    current = orchestration.graph_get(project, graph)
    if current.status in ALREADY_QUEUED:
        record_audit(
            "graph.run", _target(project, current), f"already {current.status}; nothing to do"
        )
        return graph_json(current), 202
    rerun = orchestration.graph_retry(project, current.graph_id, actor=current_user.username)
    record_audit("graph.run", _target(project, rerun), f"was {current.status}")
    return graph_json(rerun), 202


@api.route(
    f"{GRAPH}/cancel",
    "POST",
    role="operator",
    path_params=PATHS,
    response=ref("Graph"),
    status=202,
    summary="Cancel a workflow: a queued one at once, a running one's tasks are stopped.",
)
def cancel_graph(project: str, graph: str):
    cancelled = orchestration.graph_cancel(project, graph, actor=current_user.username)
    record_audit("graph.cancel", _target(project, cancelled), f"now {cancelled.status}")
    return graph_json(cancelled), 202


@api.route(
    f"{GRAPH}/retry",
    "POST",
    role="operator",
    path_params=PATHS,
    response=ref("Graph"),
    status=202,
    summary="Rerun a failed workflow: completed tasks count as done, failed and blocked rerun.",
)
def retry_graph(project: str, graph: str):
    retried = orchestration.graph_retry(project, graph, actor=current_user.username)
    record_audit("graph.retry", _target(project, retried), "failed and blocked tasks rerun")
    return graph_json(retried), 202
