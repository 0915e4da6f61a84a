"""Saved workflows through a real worker: versions, runs, rerun from a node (a new run that
takes the completed upstream over), retry failed only (each member gets run 2 with its own
log)."""

from __future__ import annotations

import pytest

from webapp import orchestration as orch
from webapp.orchestration import artifacts, workflows
from webapp.orchestration.errors import TaskNotFound, TaskStateConflict


def diamond(ran, c_payload: str) -> dict:
    step = "echo {key} >> " + str(ran)
    return {"title": "diamond", "tasks": [
        {"key": "a", "payload": step.format(key="a")},
        {"key": "b", "payload": step.format(key="b"), "after": ["a"]},
        {"key": "c", "payload": step.format(key="c") + "; " + c_payload, "after": ["a"]},
        {"key": "d", "payload": step.format(key="d"), "after": ["b", "c"]},
        {"key": "e", "payload": step.format(key="e"), "after": ["d"], "finally": True},
    ]}  # fmt: skip


def ran_keys(ran) -> list[str]:
    return ran.read_text().split() if ran.exists() else []


def statuses(graph_id: str) -> dict[str, str]:
    return {m.name: m.status for m in orch.graph_get("demo", graph_id).members}


def test_fix_a_failing_task_as_a_new_version_and_rerun_from_it(
    project, tmp_path, make_worker, until
):
    ran = tmp_path / "ran.txt"
    saved = workflows.workflow_save("demo", diamond(ran, "exit 3"), actor="alice")
    assert (saved.name, saved.latest_version) == ("diamond", 1)
    first = workflows.workflow_run("demo", saved.workflow_id, actor="alice")
    make_worker(threads=2, start=True)
    until(lambda: orch.graph_get("demo", first.graph_id).is_terminal)
    assert statuses(first.graph_id) == {"a": "completed", "b": "completed", "c": "failed",
                                        "d": "blocked", "e": "completed"}  # fmt: skip
    fixed = workflows.workflow_save("demo", diamond(ran, "true"),
                                    workflow_id=saved.workflow_id, actor="bob")  # fmt: skip
    assert fixed.latest_version == 2 and [v["version"] for v in fixed.versions] == [2, 1]
    same = workflows.workflow_save("demo", diamond(ran, "true"), workflow_id=saved.workflow_id)
    assert same.latest_version == 2  # an unchanged definition is no new version
    c_id = {m.name: m.task_id for m in orch.graph_get("demo", first.graph_id).members}["c"]
    before = ran_keys(ran)
    second = workflows.graph_rerun_from("demo", first.graph_id, c_id, actor="bob")
    assert second.graph_id != first.graph_id and second.workflow_version == 2
    until(lambda: orch.graph_get("demo", second.graph_id).is_terminal)
    assert orch.graph_get("demo", second.graph_id).status == "completed"
    assert sorted(ran_keys(ran)[len(before) :]) == ["c", "d", "e"]  # a and b did not run again
    assert set(statuses(second.graph_id).values()) == {"completed"}
    runs = workflows.workflow_runs("demo", saved.workflow_id)
    assert [(r.graph_id, r.status, r.created_by) for r in runs] == [
        (second.graph_id, "completed", "bob"), (first.graph_id, "failed", "alice")]  # fmt: skip


def test_retry_failed_gives_each_rerun_member_run_2_with_its_own_log(
    project, tmp_path, make_worker, until
):
    flag = tmp_path / "second-time"
    flaky = f"echo attempt; [ -e {flag} ] || {{ touch {flag}; exit 3; }}"
    definition = diamond(tmp_path / "ran.txt", flaky)
    saved = workflows.workflow_save("demo", definition)
    graph = workflows.workflow_run("demo", saved.workflow_id)
    make_worker(threads=2, start=True)
    until(lambda: orch.graph_get("demo", graph.graph_id).status == "failed")
    orch.graph_retry("demo", graph.graph_id, actor="carol")
    until(lambda: orch.graph_get("demo", graph.graph_id).status == "completed")
    members = {m.name: m for m in orch.graph_get("demo", graph.graph_id).members}
    assert {name: m.run_no for name, m in members.items()} == {"a": 1, "b": 1, "c": 2, "d": 2,
                                                                "e": 1}  # fmt: skip
    c = members["c"]
    first_log = artifacts.run_log_path("demo", c.task_id, 1)
    second_log = artifacts.run_log_path("demo", c.task_id, 2)
    assert first_log != second_log
    assert first_log.read_text().count("attempt") == 1
    assert second_log.read_text().count("attempt") == 1


def test_a_running_workflow_cannot_be_rerun_and_unknown_members_are_404(project, tmp_path):
    saved = workflows.workflow_save("demo", diamond(tmp_path / "r", "true"))
    graph = workflows.workflow_run("demo", saved.workflow_id)
    with pytest.raises(TaskStateConflict, match="wait for it to end"):
        workflows.graph_rerun_from("demo", graph.graph_id, graph.members[0].task_id)
    with pytest.raises(TaskNotFound):
        workflows.graph_rerun_from("demo", graph.graph_id, "nope")
    workflows.workflow_archive("demo", saved.workflow_id)
    assert workflows.workflow_list("demo") == []


def test_deleting_a_project_removes_its_saved_workflows(project, tmp_path):
    from webapp.orchestration.project_removal import project_delete

    saved = workflows.workflow_save("demo", diamond(tmp_path / "r", "true"))
    workflows.workflow_save("demo", diamond(tmp_path / "r", "false"), workflow_id=saved.workflow_id)
    project_delete("demo", actor="alice")
    orch.project_create("demo", actor="alice")  # the same ID again starts empty
    assert workflows.workflow_list("demo") == []
    with pytest.raises(TaskNotFound):
        workflows.workflow_get("demo", saved.workflow_id)
