"""Tasks run on a real Dask cluster (a ``dask scheduler`` and two ``dask worker`` processes on
loopback) while the dashboard's worker stays in charge: same logs, stops, lost runs."""

from __future__ import annotations

import ast
import inspect
import os
import re
import signal
import sys

import pytest

from webapp import orchestration as orch
from webapp.engine import TaskCancelled
from webapp.worker.backends import dask_runner, local
from webapp.worker.backends.dask import DaskBackend
from webapp.worker.backends.dask_handler import placement


def meta(task):
    return orch.get_task_meta(task.project_id, task.task_id)


def no_process_left(run_id: str) -> bool:
    return not local.run_processes([run_id])


def test_the_runner_imports_nothing_but_the_standard_library():
    tree = ast.parse(inspect.getsource(dask_runner))
    names = {alias.name.split(".")[0] for node in ast.walk(tree)
             if isinstance(node, ast.Import) for alias in node.names}  # fmt: skip
    names |= {node.module.split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom)}  # fmt: skip
    assert names and names <= set(sys.stdlib_module_names), names - set(sys.stdlib_module_names)


def _normal(text: str) -> str:
    return re.sub(r"after \d+\.\d\d s", "after N s", text)


def test_a_log_from_the_cluster_is_byte_identical_to_the_local_one(
    dask_cluster, settings, make_worker, until, tmp_path
):
    payload = ("printf 'one\\ntwo\\n'; sleep 0.1; printf 'oops\\n' >&2; sleep 0.1; "
               "printf '\\xc3\\xa9t\\xc3\\xa9 no newline'")  # fmt: skip
    orch.project_create("demo")
    remote = orch.task_new("demo", payload=payload)
    make_worker(dask_cluster)
    until(lambda: meta(remote).is_terminal)
    assert meta(remote).status == "completed", meta(remote).error
    where = placement(settings.store.db, remote.run_id)
    assert where["backend"] == "dask" and where["host"] in ("w1", "w2"), where
    remote_log = orch.task_log_path("demo", remote.task_id).read_bytes()

    local_settings = orch.Settings.for_data_dir(tmp_path / "local", worker_poll_interval=0.05)
    with orch.bind(local_settings):
        orch.project_create("demo")
        here = orch.task_new("demo", payload=payload)
        make_worker(target=local_settings)
        until(lambda: meta(here).is_terminal)
        local_log = orch.task_log_path("demo", here.task_id).read_bytes()
    local_settings.store.close()
    assert b"oops" in remote_log and "été".encode() in remote_log
    assert _normal(remote_log.decode()) == _normal(local_log.decode())


def test_project_environment_reaches_the_task_and_the_servers_does_not(
    dask_cluster, make_worker, until
):
    orch.project_create("env", env={"GREETING": "hello"})
    task = orch.task_new("env", payload="env")
    make_worker(dask_cluster)
    until(lambda: meta(task).is_terminal)
    text = orch.read_task_log("env", task.task_id).text
    assert "GREETING=hello" in text and "WEBAPP_TASK_ID=" in text
    assert "server-secret-4f1c" not in text and "WEBAPP_SECRET_KEY" not in text
    assert "server-env-9b2e" not in text


def test_stop_ends_the_whole_group_on_the_worker(dask_cluster, make_worker, until):
    orch.project_create("demo", shutdown_grace=1.0)
    polite = orch.task_new("demo", payload="echo started; sleep 300 & sleep 301; wait")
    stubborn = orch.task_new("demo", payload="""trap "" TERM; echo started; sleep 302""")
    make_worker(dask_cluster)
    for task in (polite, stubborn):
        until(lambda t=task: "started" in orch.read_task_log("demo", t.task_id).text)
    orch.task_stop("demo", polite.task_id, actor="carol")
    orch.task_stop("demo", stubborn.task_id, timeout=1.0, actor="carol")
    for task in (polite, stubborn):
        until(lambda t=task: meta(t).status == "cancelled", timeout=20)
        until(lambda t=task: no_process_left(t.run_id), timeout=10)
        assert meta(task).stop_requested_by == "carol"
        assert "[webapp] stopped after" in orch.read_task_log("demo", task.task_id).text


def test_stopped_before_it_starts_it_never_runs(dask_cluster, tmp_path):
    backend = DaskBackend(dask_cluster.address)
    marker = tmp_path / "ran"
    cancelled = []
    try:
        request = {
            "run_id": "never-1",
            "run_no": 1,
            "project_id": "p",
            "task_id": "t",
            "env": {},
            "grace": 1.0,
            "timeout": None,
            "resources": {"no-such-resource": 1},
        }  # pending for ever
        with pytest.raises(TaskCancelled):
            backend.run(["touch", str(marker)], request, lambda *_: None,
                        set_canceller=lambda stop: stop and cancelled.append(stop) or
                        (stop and stop()))  # fmt: skip
    finally:
        backend.close()
    assert cancelled and not marker.exists()


def test_a_killed_dask_worker_makes_its_run_lost_once(dask_cluster, make_worker, until, tmp_path):
    orch.project_create("demo", shutdown_grace=1.0)
    count = tmp_path / "count"
    task = orch.task_new("demo", payload=f"echo x >> {count}; echo started; sleep 300")
    make_worker(dask_cluster)
    until(lambda: "started" in orch.read_task_log("demo", task.task_id).text)
    shell = local.run_processes([task.run_id])[task.run_id][0]
    with open(f"/proc/{shell}/stat") as fh:
        dask_worker = int(fh.read().rsplit(")", 1)[1].split()[1])  # the runner's process
    name = next(n for n, p in dask_cluster.procs.items() if p.pid == dask_worker)
    try:
        os.kill(dask_worker, signal.SIGKILL)
        until(lambda: meta(task).is_terminal, timeout=20)
        assert meta(task).status == "lost", (meta(task).status, meta(task).error)
        row = (
            orch.current()
            .store.db.execute("SELECT lost, pid, pgid FROM runs WHERE run_id = ?", [task.run_id])
            .fetchone()
        )
        assert row == (1, None, None)  # lost; remote PIDs never in the local columns
        assert "died" in meta(task).error
        until(lambda: no_process_left(task.run_id), timeout=10)
        assert count.read_text() == "x\n"  # ran once, never re-run elsewhere
    finally:
        dask_cluster.procs.pop(name).wait()
        dask_cluster.start_worker(name)
        dask_cluster.wait_workers(2)


def test_timeouts_hold(dask_cluster, make_worker, until):
    orch.project_create("demo", shutdown_grace=1.0)
    task = orch.task_new("demo", payload="echo started; sleep 300", timeout=1.0)
    make_worker(dask_cluster)
    until(lambda: meta(task).is_terminal, timeout=20)
    assert "timed out" in orch.read_task_log("demo", task.task_id).text
    until(lambda: no_process_left(task.run_id), timeout=10)


def test_a_three_task_workflow_runs_on_the_cluster(dask_cluster, settings, make_worker, until):
    orch.project_create("demo")
    graph = orch.graph_new("demo", {"tasks": [
        {"key": "a", "payload": "echo a"},
        {"key": "b", "payload": "echo b", "after": ["a"]},
        {"key": "c", "payload": "echo c", "after": ["b"]},
    ]})  # fmt: skip
    make_worker(dask_cluster)
    until(lambda: orch.graph_get("demo", graph.graph_id).status == "completed", timeout=60)
    runs = settings.store.db.execute(
        "SELECT r.backend FROM runs r JOIN task_records t ON t.task_id = r.task_id "
        "WHERE t.graph_id = ?",
        [graph.graph_id],
    ).fetchall()
    assert [r[0] for r in runs] == ["dask"] * 3


def test_a_scheduler_allowing_failures_gets_nothing(make_cluster, make_worker):
    unsafe = make_cluster("unsafe", allowed_failures=3, workers=1)
    orch.project_create("demo")
    task = orch.task_new("demo", payload="echo ran")
    worker = make_worker(unsafe, start=False)
    for _ in range(3):
        assert worker.run_once() == 0
    assert meta(task).status == "queued"
    reason = worker.cluster.check()
    assert "allows 3 failures" in reason and "ALLOWED_FAILURES=0" in reason
    assert worker.cluster.free_slots() == 0


def test_tasks_stay_queued_while_the_cluster_is_unreachable(make_worker):
    orch.project_create("demo")
    task = orch.task_new("demo", payload="echo ran")
    worker = make_worker(start=False)
    worker.cluster = DaskBackend("tcp://127.0.0.1:9", connect_timeout=0.5)
    assert worker.run_once() == 0
    assert meta(task).status == "queued"
    assert "unreachable" in worker.cluster.reason


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_killed_scheduler_loses_its_runs_and_a_restarted_one_gets_the_queue(
    make_cluster, make_worker, until
):
    cluster = make_cluster("restart", workers=1, port=_free_port())
    orch.project_create("demo")
    task = orch.task_new("demo", payload="echo started; sleep 300")
    make_worker(cluster)
    until(lambda: "started" in orch.read_task_log("demo", task.task_id).text)
    cluster.kill("scheduler")
    until(lambda: meta(task).is_terminal, timeout=20)
    assert meta(task).status == "lost", (meta(task).status, meta(task).error)
    until(lambda: no_process_left(task.run_id), timeout=10)
    later = orch.task_new("demo", payload="echo later")
    cluster.kill("w1") if cluster.procs["w1"].poll() is None else cluster.procs.pop("w1").wait()
    cluster.start_scheduler()  # as systemd would (Restart=always), the worker too
    cluster.start_worker("w1")
    cluster.wait_workers(1)
    until(lambda: meta(later).is_terminal, timeout=30)
    assert meta(later).status == "completed", meta(later).error
