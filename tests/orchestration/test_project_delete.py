"""Deleting a project archives every task, refuses while work is queued or running."""

from __future__ import annotations

import pytest

from webapp import orchestration as orch
from webapp.orchestration import errors


def finished_task(name: str) -> orch.TaskMeta:
    task = orch.task_new("demo", name=name, payload="true", actor="alice")
    return orch.task_stop("demo", task.task_id, actor="alice")  # queued: cancelled at once


def test_delete_archives_every_task_then_the_project_is_gone(project):
    first, second = finished_task("one"), finished_task("two")
    assert first.is_terminal and second.is_terminal
    plan = orch.project_delete_plan("demo")
    assert (plan.tasks, plan.active_tasks, plan.blocked) == (2, [], None)
    result = orch.project_delete("demo", actor="alice")
    assert (result.archived, result.warnings) == (2, [])
    with pytest.raises(errors.ProjectNotFound):
        orch.project_get("demo")
    assert [p.id for p in orch.project_list()] == []
    archived = {item.task_id for item in orch.list_archived_tasks("demo")}
    assert archived == {first.task_id, second.task_id}
    # The ID is free again, and the archive of the old project shows under it.
    orch.project_create("demo", actor="alice")
    assert orch.project_get("demo").total == 0


def test_delete_is_refused_while_a_task_is_queued_naming_it(project):
    finished_task("done")
    queued = orch.task_new("demo", name="waiting", payload="true", actor="alice")
    plan = orch.project_delete_plan("demo")
    assert plan.active_tasks == [queued.task_id]
    busy = f"1 queued or running task.*{queued.task_id}"
    with pytest.raises(errors.TaskStateConflict, match=busy):
        orch.project_delete("demo", actor="alice")
    assert orch.project_get("demo").total == 2  # nothing was archived


def test_delete_of_a_missing_project_is_not_found(settings):
    with pytest.raises(errors.ProjectNotFound):
        orch.project_delete("nope")


def test_a_cancelled_workflow_goes_with_the_project_a_queued_one_blocks_it(project):
    graph = orch.graph_new("demo", {"tasks": [{"key": "a", "payload": "true"}]}, actor="alice")
    plan = orch.project_delete_plan("demo")
    assert plan.active_graphs == [graph.graph_id] and "workflow" in plan.blocked
    orch.graph_cancel("demo", graph.graph_id, actor="alice")
    assert orch.project_delete_plan("demo").blocked is None
    result = orch.project_delete("demo", actor="alice")
    assert result.archived == 1  # the workflow's member task
    db = orch.current().store.db
    for table in ("graph_records", "graphs", "graph_tasks", "task_records", "task_counts"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
