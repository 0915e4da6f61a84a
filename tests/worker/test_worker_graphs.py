"""Graph runs: definitions, a worker driving TaskGraph, failure and rerun, cancel, recovery."""

from __future__ import annotations

import time

import pytest

from webapp import orchestration as orch
from webapp.orchestration import recovery


def _chain(ran, *, extra=()) -> dict:
    step = f"echo $WEBAPP_TASK_ID-{{key}} | tee -a {ran}"
    return {
        "title": "chain",
        "tasks": [
            {"key": "a", "name": "fetch", "payload": step.format(key="a")},
            {"key": "b", "payload": step.format(key="b"), "after": ["a"]},
            {"key": "c", "payload": step.format(key="c"), "after": ["b"]},
            {"key": "z", "payload": step.format(key="z"), "after": ["c"], "finally": True},
            *extra,
        ],
    }


def _keys(ran) -> list[str]:
    return [line.rsplit("-", 1)[1] for line in ran.read_text().split()] if ran.exists() else []


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"tasks": []}, "1 to 500 tasks"),
        ({"tasks": [{"key": "a", "payload": "x"}, {"key": "a", "payload": "y"}]}, "unique"),
        ({"tasks": [{"key": "a", "payload": "x", "after": ["b"]}]}, "'after' must list keys"),
        (
            {"tasks": [{"key": "a", "payload": "x", "after": ["b"]},
                       {"key": "b", "payload": "y", "after": ["a"]}]},
            "cycle among: a, b",
        ),
        ({"tasks": [{"key": "a", "payload": "x", "required": False}]}, "only valid with finally"),
        ({"tasks": [{"key": "a", "payload": ""}]}, "payload must not be empty"),
        ("not a dict", "A graph definition is"),
    ],
)  # fmt: skip
def test_bad_definitions_are_refused(project, definition, message):
    with pytest.raises(orch.errors.InvalidTaskRequest, match=message):
        orch.graph_new("demo", definition)
    assert orch.task_list("demo").total == 0 and orch.graph_list("demo") == []


def test_a_graph_runs_in_dependency_order(project, tmp_path, make_worker, until):
    ran = tmp_path / "ran.txt"
    graph = orch.graph_new("demo", _chain(ran), actor="alice")
    assert graph.status == "queued" and len(graph.members) == 4
    a, b, c, z = (m.task_id for m in graph.members)
    assert graph.dependencies == {a: [], b: [a], c: [b], z: [c]} and graph.finally_tasks == [z]
    assert graph.members[0].name == "fetch" and all(m.graph_id for m in graph.members)
    assert orch.task_list("demo").total == 4  # members are tasks like any other
    with pytest.raises(orch.errors.TaskStateConflict, match="belongs to a graph"):
        orch.task_stop("demo", a)
    with pytest.raises(orch.errors.TaskStateConflict, match="cancel the graph before deleting"):
        orch.task_delete("demo", a)
    worker = make_worker(threads=2, start=True)
    until(lambda: orch.graph_get("demo", graph.graph_id).status == "completed")
    assert _keys(ran) == ["a", "b", "c", "z"]
    done = orch.graph_get("demo", graph.graph_id)
    assert {m.status for m in done.members} == {"completed"} and done.attempts == 1
    history = orch.task_history("demo", b)
    assert [(t.from_status, t.to_status) for t in history] == [
        (None, "queued"), ("queued", "running"), ("running", "completed"),
    ]  # fmt: skip
    assert history[1].actor == worker.id
    assert "fetch" not in orch.read_task_log("demo", b).text
    assert orch.read_task_log("demo", a).text.startswith(f"{a}-a\n")
    assert orch.task_delete("demo", a).warnings == []  # a finished graph's tasks can go
    assert [m.task_id for m in orch.graph_get("demo", graph.graph_id).members] == [b, c, z]


def test_a_failure_blocks_dependents_and_a_rerun_resumes(project, tmp_path, make_worker, until):
    ran = tmp_path / "ran.txt"
    flaky = {
        "key": "f",
        "after": ["a"],
        "payload": f"echo $WEBAPP_TASK_ID-f >> {ran}; [ -f again ] || {{ touch again; exit 1; }}",
    }
    definition = _chain(ran, extra=[flaky])
    definition["tasks"][1]["after"] = ["f"]  # a -> f (fails once) -> b -> c, finally z
    graph = orch.graph_new("demo", definition)
    make_worker(threads=2, start=True)
    until(lambda: orch.graph_get("demo", graph.graph_id).status == "failed")
    assert _keys(ran) == ["a", "f", "z"]
    statuses = {m.name: m.status for m in orch.graph_get("demo", graph.graph_id).members}
    assert sorted(statuses.values()) == ["blocked", "blocked", "completed", "completed", "failed"]
    orch.graph_retry("demo", graph.graph_id, actor="bob")
    until(lambda: orch.graph_get("demo", graph.graph_id).status == "completed")
    assert _keys(ran) == ["a", "f", "z", "f", "b", "c"]  # DONE tasks are not run again
    with pytest.raises(orch.errors.TaskStateConflict, match="only failed graphs"):
        orch.graph_retry("demo", graph.graph_id)


def test_cancelling_queued_and_running_graphs(project, make_worker, until):
    queued = orch.graph_new("demo", {"tasks": [{"key": "a", "payload": "true"}]})
    cancelled = orch.graph_cancel("demo", queued.graph_id, actor="carol")
    assert cancelled.status == "cancelled" and cancelled.members[0].status == "cancelled"
    running = orch.graph_new("demo", {"tasks": [
        {"key": "s", "payload": "sleep 300"}, {"key": "t", "payload": "true", "after": ["s"]},
    ]})  # fmt: skip
    make_worker(start=True)
    sleeper = orch.graph_get("demo", running.graph_id).members[0]
    until(lambda: orch.get_task_meta("demo", sleeper.task_id).status == "running")
    started = time.monotonic()
    orch.graph_cancel("demo", running.graph_id, actor="carol")
    until(lambda: orch.graph_get("demo", running.graph_id).status == "cancelled", timeout=15)
    assert time.monotonic() - started < 10  # project grace is 1 s (the sleep is 300 s)
    members = orch.graph_get("demo", running.graph_id).members
    assert [m.status for m in members] == ["cancelled", "cancelled"]  # pending ones too
    assert members[0].stop_requested_by is None and members[0].error == "stopped by carol"
    with pytest.raises(orch.errors.TaskStateConflict, match="already cancelled"):
        orch.graph_cancel("demo", running.graph_id)


def test_a_lost_worker_requeues_its_graph_and_done_members_stay_done(
    project, tmp_path, make_worker, until
):
    ran = tmp_path / "ran.txt"
    graph = orch.graph_new("demo", {"tasks": [
        {"key": "a", "payload": f"echo a >> {ran}"},
        {"key": "b", "after": ["a"],
         "payload": f"echo b >> {ran}; [ -f once ] || {{ touch once; sleep 300; }}"},
    ]})  # fmt: skip
    first = make_worker(threads=1)
    first.run_once()
    b = orch.graph_get("demo", graph.graph_id).members[1]
    until(lambda: orch.get_task_meta("demo", b.task_id).status == "running")
    until(lambda: orch.get_task_meta("demo", b.task_id).run_id in recovery.run_processes(
        [orch.get_task_meta("demo", b.task_id).run_id]))  # fmt: skip
    assert not first.stop(timeout=0.1, cancel=False)  # it claims nothing more, its task runs on
    reaper = make_worker(threads=1)
    reaper.register()
    recovery.reap_dead_workers(orch.current(), reaper.id, now=time.time() + 60)
    assert orch.get_task_meta("demo", b.task_id).status == "lost"
    requeued = orch.graph_get("demo", graph.graph_id)
    assert requeued.status == "queued" and "sent no heartbeat" in requeued.note
    until(lambda: not first._running, timeout=15)  # the old driver gave up; its saves refused
    reaper.run_once()
    until(lambda: orch.graph_get("demo", graph.graph_id).status == "completed")
    assert ran.read_text().split() == ["a", "b", "b"]
    final = orch.graph_get("demo", graph.graph_id)
    assert final.attempts == 2 and {m.status for m in final.members} == {"completed"}
