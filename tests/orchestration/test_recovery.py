"""Recovery's facts about processes (proven by PID and start time, never guessed) and the
reaper that marks a dead worker's runs lost and kills what they left behind."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

from webapp import orchestration as orch
from webapp.orchestration import recovery
from webapp.worker import Worker


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
    assert recovery.group_pids(proc.pid) == [proc.pid]
    assert recovery.kill_process_group(proc.pid, "someone-else") == "reused"
    assert proc.poll() is None  # left alone
    assert recovery.kill_process_group(proc.pid, recovery.process_start(proc.pid)) == "killed"
    proc.wait(timeout=30)
    assert recovery.kill_process_group(proc.pid, None) == "gone"


def test_processes_are_found_and_killed_by_the_run_id_in_their_environment(spawn):
    mine, other = spawn(WEBAPP_RUN_ID="run-a"), spawn(WEBAPP_RUN_ID="run-b")
    until(lambda: recovery.run_processes(["run-a"]))
    assert recovery.run_processes(["run-a"]) == {"run-a": [mine.pid]}
    assert recovery.kill_run_processes(["run-a"]) == 1
    mine.wait(timeout=30)
    assert recovery.run_processes(["run-a"]) == {}
    assert other.poll() is None


def test_a_worker_is_dead_when_its_process_is_gone_or_it_went_silent():
    me = recovery.this_process()
    row = {"id": "w1", "heartbeat_at": 1000.0, **me}
    assert recovery.dead_reason(row, now=1001.0, lost_after=30) is None
    assert "sent no heartbeat for 60 s" in recovery.dead_reason(row, now=1060.0, lost_after=30)
    gone = {**row, "proc_start": "another-boot:1"}
    assert "(pid" in recovery.dead_reason(gone, now=1001.0, lost_after=30)


def test_the_reaper_marks_a_silent_workers_run_lost_and_kills_its_process(project, settings):
    task = orch.task_new("demo", payload="sleep 600")
    silent = Worker(settings, threads=1, name="silent")
    try:
        until(lambda: silent.run_once() or status(task) == "running")
        run_id = orch.get_task_meta("demo", task.task_id).run_id
        until(lambda: recovery.run_processes([run_id]))
        lost = recovery.reap_dead_workers(settings, "reaper", now=time.time() + 60)
        assert [run["run_id"] for run in lost] == [run_id]
        meta = orch.get_task_meta("demo", task.task_id)
        assert meta.status == "lost" and "sent no heartbeat" in meta.error
        until(lambda: not recovery.run_processes([run_id]))
    finally:
        silent.stop(10.0)
