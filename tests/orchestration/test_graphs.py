"""Workflows as orchestration keeps them: checked definitions, members that are tasks,
cancel before a worker claims the graph, rerun only after a failure."""

from __future__ import annotations

import re

import pytest

from webapp import orchestration as orch
from webapp.limits import GRAPH_MAX_TASKS
from webapp.orchestration.errors import InvalidTaskRequest, TaskNotFound, TaskStateConflict

BUILD = {
    "title": "build",
    "tasks": [
        {"key": "fetch", "payload": "echo fetch"},
        {"key": "test", "payload": "echo test", "after": ["fetch"]},
        {"key": "report", "payload": "echo report", "after": ["test"], "finally": True},
    ],
}


def test_a_graph_is_queued_with_its_members_as_tasks_in_definition_order(project):
    graph = orch.graph_new("demo", BUILD, actor="alice")
    assert (graph.title, graph.status, graph.created_by) == ("build", "queued", "alice")
    assert [m.status for m in graph.members] == ["queued"] * 3
    fetch, test, report = (m.task_id for m in graph.members)
    assert graph.dependencies[test] == [fetch] and graph.finally_tasks == [report]
    listed = orch.task_list("demo").items
    assert {t.task_id for t in listed} == {fetch, test, report}
    assert all(t.graph_id == graph.graph_id for t in listed)
    assert [g.graph_id for g in orch.graph_list("demo")] == [graph.graph_id]


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"tasks": []}, "A graph has 1 to"),
        ({"tasks": [{"payload": "true"}]}, "unique, non-empty 'key'"),
        ({"tasks": [{"key": "a", "payload": "x"}, {"key": "a", "payload": "y"}]}, "unique"),
        ({"tasks": [{"key": "a", "payload": "x", "after": ["nope"]}]}, "'after' must list"),
        (
            {
                "tasks": [
                    {"key": "a", "payload": "x", "after": ["b"]},
                    {"key": "b", "payload": "y", "after": ["a"]},
                ]
            },
            "cycle among: a, b",
        ),  # fmt: skip
        (
            {"tasks": [{"key": str(i), "payload": "x"} for i in range(GRAPH_MAX_TASKS + 1)]},
            f"1 to {GRAPH_MAX_TASKS} tasks",
        ),  # fmt: skip
        ("not a mapping", '{"title": ..., "tasks": [...]}'),
    ],
)
def test_bad_definitions_are_refused_with_what_is_wrong(project, definition, message):
    with pytest.raises(InvalidTaskRequest, match=re.escape(message)):
        orch.graph_new("demo", definition)
    assert orch.task_list("demo").total == 0  # nothing half-created


def test_cancelling_a_queued_graph_cancels_every_member_through_the_engine(project):
    graph = orch.graph_new("demo", BUILD)
    cancelled = orch.graph_cancel("demo", graph.graph_id, actor="bob")
    assert cancelled.status == "cancelled" and cancelled.cancel_requested_by == "bob"
    for member in cancelled.members:
        meta = orch.get_task_meta("demo", member.task_id)
        assert meta.status == "cancelled" and meta.is_terminal
        assert orch.task_history("demo", member.task_id)[-1].actor == "bob"
    with pytest.raises(TaskStateConflict, match="already cancelled"):
        orch.graph_cancel("demo", graph.graph_id)


def test_only_a_failed_graph_can_be_rerun(project):
    graph = orch.graph_new("demo", BUILD)
    with pytest.raises(TaskStateConflict, match="only failed graphs can be rerun"):
        orch.graph_retry("demo", graph.graph_id)


def test_unknown_graphs_are_not_found(project):
    with pytest.raises(TaskNotFound, match="Unknown graph 'nope' in project demo"):
        orch.graph_get("demo", "nope")
