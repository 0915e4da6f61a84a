"""Workers in separate processes (``webapp worker``): no task twice, recovery after kill -9."""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading

import pytest

from webapp import orchestration as orch
from webapp.orchestration import recovery
from webapp.worker.backends import local


def _start_worker(settings, threads: int, extra: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "WEBAPP_WORKER_POLL_INTERVAL": "0.05", "WEBAPP_WORKER_LOST_AFTER": "5",
           **(extra or {})}  # fmt: skip
    argv = [sys.executable, "-m", "webapp.cli", "worker", "--threads", str(threads),
            "--data-dir", str(settings.data_dir)]  # fmt: skip
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode(errors="replace")


def _live_workers(settings) -> int:
    return settings.store.db.execute(
        "SELECT count(*) FROM workers WHERE stopped_at IS NULL"
    ).fetchone()[0]


def test_two_worker_processes_run_300_tasks_exactly_once(project, settings, tmp_path, until):
    # ~5 s: two Python processes start and run 300 real bash tasks between them.
    ran = tmp_path / "ran.txt"
    procs = [_start_worker(settings, 4), _start_worker(settings, 4)]
    try:
        until(lambda: _live_workers(settings) == 2, timeout=20)
        tasks = [
            orch.task_new("demo", payload=f'echo "$WEBAPP_TASK_ID" >> {ran}') for _ in range(300)
        ]
        until(lambda: orch.counts_by_status("demo")["completed"] == 300, timeout=60)
    finally:
        outputs = [_stop(proc) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), outputs
    lines = ran.read_text().split()
    assert sorted(lines) == sorted(t.task_id for t in tasks)  # every task ran, none twice
    claims = settings.store.db.execute(
        "SELECT task_id, actor FROM transitions WHERE reason = 'claimed'"
    ).fetchall()
    assert len(claims) == 300 and len({task for task, _ in claims}) == 300
    assert len({actor for _, actor in claims}) == 2, "both processes should have claimed tasks"


def _sleepers(marker: str) -> list[int]:
    """Live processes whose command line carries ``marker``."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                    if marker.encode() in fh.read():
                        found.append(int(entry.name))
            except OSError:
                continue
    return [pid for pid in found if recovery.process_start(pid) is not None]


def test_kill_9_mid_run_then_a_restart_reattaches_every_task(settings, tmp_path, until):
    # ~10 s: 50 tasks of `sleep 3; echo done` run; every worker process gets SIGKILL.
    orch.project_create("demo")
    ran = tmp_path / "ran.txt"
    tasks = [orch.task_new("demo", payload=f"echo $WEBAPP_TASK_ID >> {ran}; sleep 3; echo done")
             for _ in range(50)]  # fmt: skip
    procs = [_start_worker(settings, 25), _start_worker(settings, 25)]
    try:
        until(lambda: orch.counts_by_status("demo")["running"] == 50, timeout=60)
        run_ids = [orch.get_task_meta("demo", t.task_id).run_id for t in tasks]
        states = [settings.tasks_root / "demo" / t.task_id / "runs" / "1.json" for t in tasks]
        until(lambda: all(path.exists() for path in states), timeout=60)  # all 50 started
        for proc in procs:
            proc.kill()  # SIGKILL: no cleanup of any kind
        for proc in procs:
            proc.wait(timeout=10)
        procs.append(_start_worker(settings, 4))  # the restart
        until(lambda: orch.counts_by_status("demo")["completed"] == 50, timeout=120)
    finally:
        for proc in procs:
            _stop(proc)
    counts = orch.counts_by_status("demo")
    assert (counts["lost"], counts["failed"]) == (0, 0)
    for task in tasks:
        meta = orch.get_task_meta("demo", task.task_id)
        assert (meta.exit_code, meta.runs) == (0, 1)
        log = orch.read_task_log("demo", task.task_id).text
        assert log.startswith("done\n") and "[webapp] exited with code 0" in log, log
    assert sorted(ran.read_text().split()) == sorted(t.task_id for t in tasks)  # none twice
    assert not local.run_processes(run_ids)  # no process of any run is left


@pytest.mark.parametrize("reused", [True, False])
def test_a_recorded_group_is_killed_only_while_it_is_still_ours(reused):
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        start = recovery.process_start(proc.pid)
        recorded = "another:123" if reused else start
        outcome = recovery.kill_process_group(proc.pid, recorded)
        assert outcome == ("reused" if reused else "killed")
        assert (proc.poll() is None) == reused or proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
    assert recovery.kill_process_group(proc.pid, start) == "gone"


def test_processes_of_a_run_are_found_by_their_run_id_even_unrecorded():
    run_id = f"run-{secrets.token_hex(4)}"
    env = {**os.environ, recovery.RUN_ENV: run_id}
    proc = subprocess.Popen(["sleep", "30"], env=env, start_new_session=True)
    try:
        assert local.run_processes([run_id, "another"]) == {run_id: [proc.pid]}
        assert local.kill_run_processes([run_id]) == 1
        assert proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()


def test_a_long_write_lock_marks_no_running_task_lost(settings, tmp_path, until):
    # ~10 s: two worker processes; another connection holds the write lock for 6 s, far
    # longer than WORKER_LOST_AFTER (1 s): heartbeats stall, yet no live worker is reaped.
    orch.project_create("demo")
    gate = tmp_path / "gate"
    tasks = [orch.task_new("demo", payload=f"while [ ! -f {gate} ]; do sleep 0.05; done; echo ok")
             for _ in range(6)]  # fmt: skip
    env = {"WEBAPP_WORKER_LOST_AFTER": "1", "WEBAPP_WORKER_HEARTBEAT_INTERVAL": "0.2"}
    procs = [_start_worker(settings, 3, env), _start_worker(settings, 3, env)]
    try:
        until(lambda: orch.counts_by_status("demo")["running"] == 6, timeout=60)
        holder = sqlite3.connect(settings.database, timeout=30, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            held = threading.Event()
            held.wait(3.0)  # the workers' heartbeats wait behind the lock
            gate.touch()  # the tasks end while the lock is held: their ends wait too
            held.wait(3.0)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        until(lambda: orch.counts_by_status("demo")["completed"] == 6, timeout=60)
    finally:
        outputs = [_stop(proc) for proc in procs]
    counts = orch.counts_by_status("demo")
    assert (counts["lost"], counts["completed"]) == (0, 6), outputs
    reaped = settings.store.db.execute("SELECT count(*) FROM workers WHERE reaped_at IS NOT NULL")
    assert reaped.fetchone()[0] == 0
    assert all(orch.get_task_meta("demo", t.task_id).exit_code == 0 for t in tasks)


def test_a_workflow_killed_mid_member_shows_it_as_lost_run_1_and_run_2(settings, until):
    # ~8 s: a worker process running a workflow member gets SIGKILL; a restart resumes it.
    orch.project_create("demo", shutdown_grace=1.0)
    graph = orch.graph_new("demo", {"tasks": [
        {"key": "first", "payload": "echo first"},
        {"key": "slow", "after": ["first"],
         "payload": "echo slow starts; [ -f once ] || { touch once; sleep 300; }; echo slow ends"},
    ]})  # fmt: skip
    first, slow = (m.task_id for m in graph.members)
    proc = _start_worker(settings, 2)
    procs = [proc]
    try:
        until(lambda: orch.get_task_meta("demo", slow).status == "running", timeout=60)
        run_1 = orch.get_task_meta("demo", slow).run_id
        until(lambda: local.run_processes([run_1]), timeout=30)
        proc.kill()
        proc.wait(timeout=10)
        procs.append(_start_worker(settings, 2))  # the restart
        until(lambda: orch.graph_get("demo", graph.graph_id).status == "completed", timeout=60)
    finally:
        for each in procs:
            _stop(each)
    meta = orch.get_task_meta("demo", slow)
    assert (meta.status, meta.runs, meta.run_no) == ("completed", 2, 2)
    runs = orch.task_runs("demo", slow)
    assert [(r.run_no, r.termination_reason) for r in runs][:1] == [(1, "lost")]
    assert runs[-1].run_no == 2 and runs[-1].exit_code == 0
    assert orch.read_task_log("demo", slow, run_no=1).text.startswith("slow starts\n")
    second = orch.read_task_log("demo", slow, run_no=2).text
    assert second.startswith("slow starts\nslow ends\n")
    assert orch.get_task_meta("demo", first).runs == 1  # done members stay done
    assert not local.run_processes([run_1])
