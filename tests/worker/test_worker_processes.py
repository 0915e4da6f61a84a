"""Workers in separate processes (``webapp worker``): no task twice, recovery after kill -9."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys

import pytest

from webapp import orchestration as orch
from webapp.orchestration import recovery
from webapp.store import records
from webapp.worker import Worker


def _start_worker(settings, threads: int) -> subprocess.Popen:
    env = {**os.environ, "WEBAPP_WORKER_POLL_INTERVAL": "0.05", "WEBAPP_WORKER_LOST_AFTER": "5"}
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


def test_kill_9_then_a_fresh_start_marks_running_tasks_lost(settings, tmp_path, until):
    # ~3 s: a worker process is killed with SIGKILL while running 5 sleeps.
    orch.project_create("other")
    done = orch.task_new("other", payload="echo done")
    earlier = Worker(settings, threads=1)
    earlier.run_once()
    until(lambda: orch.get_task_meta("other", done.task_id).status == "completed")
    assert earlier.stop(timeout=15)
    orch.project_create("demo")
    marker = str(secrets.randbelow(90000) + 10000)  # digits: "sleep 300.<i><marker>" is valid
    sleeps = [orch.task_new("demo", payload=f"sleep 300.{i}{marker}") for i in range(5)]
    proc = _start_worker(settings, 5)
    groups = []
    try:
        until(lambda: orch.counts_by_status("demo")["running"] == 5, timeout=20)
        until(lambda: len(_sleepers(marker)) == 5, timeout=10)
        db = settings.store.db
        groups = until(
            lambda: all(g := [records.get_run(db, t.run_id)["pgid"] for t in sleeps]) and g
        )
        proc.kill()  # SIGKILL: no cleanup of any kind
        proc.wait(timeout=10)
        assert len(_sleepers(marker)) == 5  # the orphans outlive their worker
        queued = orch.task_new("other", payload="echo later")
        before = [orch.get_task_meta("other", t.task_id) for t in (done, queued)]
        histories = [orch.task_history("other", t.task_id) for t in (done, queued)]

        lost = Worker(settings).recover()  # what a fresh start does first

        assert sorted(run["run_id"] for run in lost) == sorted(t.run_id for t in sleeps)
        for task in sleeps:
            meta = orch.get_task_meta("demo", task.task_id)
            assert (meta.status, meta.termination_reason) == ("lost", "lost")
            assert "is gone" in meta.error
        until(lambda: not _sleepers(marker), timeout=15)
        assert all(not recovery.group_pids(pgid) for pgid in groups)
        assert [orch.get_task_meta("other", t.task_id) for t in (done, queued)] == before
        assert [orch.task_history("other", t.task_id) for t in (done, queued)] == histories
    finally:
        if proc.poll() is None:
            proc.kill()
        _stop(proc)
        for pgid in groups:
            if pgid and recovery.group_pids(pgid):
                os.killpg(pgid, signal.SIGKILL)


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
        assert recovery.run_processes([run_id, "another"]) == {run_id: [proc.pid]}
        assert recovery.kill_run_processes([run_id]) == 1
        assert proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
