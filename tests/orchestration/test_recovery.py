"""Recovery's facts about processes (proven by PID and start time, never guessed), the
process control of the local backend, and the reaper that settles a dead worker's runs."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from webapp import orchestration as orch
from webapp.orchestration import recovery
from webapp.worker import Worker
from webapp.worker.backends import local


@pytest.fixture
def spawn():
    """Start ``sleep 600`` in its own process group (with extra environment); always reaped."""
    started: list[subprocess.Popen] = []

    def start(**env: str) -> subprocess.Popen:
        proc = subprocess.Popen(["sleep", "600"], start_new_session=True, env={**os.environ, **env})
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def until(condition, timeout: float = 30.0):
    deadline, pause = time.monotonic() + timeout, threading.Event()
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        pause.wait(0.02)
    return value


def status(task) -> str:
    return orch.get_task_meta("demo", task.task_id).status


def test_a_process_is_alive_only_while_its_pid_and_start_time_match(spawn):
    assert recovery.token_alive(recovery.process_token()) is True
    proc = spawn()
    start = recovery.process_start(proc.pid)
    assert start is not None and start.startswith(recovery.boot_id())
    token = f"{recovery.HOSTNAME}|{proc.pid}|{start}"
    assert recovery.token_alive(token) is True
    assert recovery.token_alive(f"{recovery.HOSTNAME}|{proc.pid}|{start}0") is False  # reused
    assert recovery.token_alive(f"elsewhere.example|{proc.pid}|{start}") is None  # unknowable
    proc.kill()
    proc.wait()
    assert recovery.process_start(proc.pid) is None and recovery.token_alive(token) is False


def test_a_process_group_is_killed_only_if_its_leader_is_still_the_same_process(spawn):
    proc = spawn()
    assert local.group_pids(proc.pid) == [proc.pid]
    assert recovery.kill_process_group(proc.pid, "someone-else") == "reused"
    assert proc.poll() is None  # left alone
    assert recovery.kill_process_group(proc.pid, recovery.process_start(proc.pid)) == "killed"
    proc.wait(timeout=30)
    assert recovery.kill_process_group(proc.pid, None) == "gone"


def test_processes_are_found_and_killed_by_the_run_id_in_their_environment(spawn):
    mine, other = spawn(WEBAPP_RUN_ID="run-a"), spawn(WEBAPP_RUN_ID="run-b")
    until(lambda: local.run_processes(["run-a"]))
    assert local.run_processes(["run-a"]) == {"run-a": [mine.pid]}
    assert local.kill_run_processes(["run-a"]) == 1
    mine.wait(timeout=30)
    assert local.run_processes(["run-a"]) == {}
    assert other.poll() is None


def test_a_worker_is_dead_only_when_that_is_proven():
    me = recovery.this_process()
    row = {"id": "w1", "heartbeat_at": 1000.0, **me}
    # on this host: only a gone process proves it, however old the heartbeat
    assert recovery.dead_reason(row, now=1001.0, lost_after=30) is None
    assert recovery.dead_reason(row, now=9999.0, lost_after=30, writable_since=0.0) is None
    gone = {**row, "proc_start": "another-boot:1"}
    assert "(pid" in recovery.dead_reason(gone, now=1001.0, lost_after=30)
    # another host: silent for lost_after while the database took the reaper's writes
    far = {**row, "hostname": "elsewhere.example"}
    assert recovery.dead_reason(far, now=1060.0, lost_after=30, writable_since=None) is None
    assert recovery.dead_reason(far, now=1060.0, lost_after=30, writable_since=1040.0) is None
    reason = recovery.dead_reason(far, now=1060.0, lost_after=30, writable_since=1020.0)
    assert "sent no heartbeat for 60 s" in reason


def test_the_reaper_marks_a_run_without_supervisor_lost_and_kills_its_process(project, settings):
    task = orch.task_new("demo", payload="sleep 600")
    dead = Worker(settings, threads=1, name="dead", supervised=False)
    reaper = Worker(settings, threads=1, name="reaper")
    try:
        until(lambda: dead.run_once() or status(task) == "running")
        run_id = orch.get_task_meta("demo", task.task_id).run_id
        until(lambda: local.run_processes([run_id]))
        settings.store.db.execute(  # its process is gone (a start time no process has)
            "UPDATE workers SET proc_start = 'another-boot:1' WHERE id = ?", [dead.id]
        )
        reaper.register()
        lost = reaper.reap(now=time.time())
        assert [run["run_id"] for run in lost] == [run_id]
        meta = orch.get_task_meta("demo", task.task_id)
        assert meta.status == "lost" and "is gone" in meta.error
        until(lambda: not local.run_processes([run_id]))
    finally:
        dead.stop(10.0)
        reaper.stop(10.0)
