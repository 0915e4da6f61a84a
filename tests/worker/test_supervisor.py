"""The run supervisor owns the whole process tree: a stop, or the command's own exit, leaves
no process of the run behind, ``setsid`` daemons included (found by the run ID every process
of a run carries in its environment)."""

from __future__ import annotations

import os
import time

import pytest

from webapp import orchestration as orch
from webapp.orchestration import recovery
from webapp.worker.backends import local

GRACE = 4.0  # the project's; every process must be gone GRACE + 1 s after a stop

DAEMONS = {
    "setsid": "setsid sleep 300 &",
    "setsid, output redirected": "setsid sleep 300 >/dev/null 2>&1 </dev/null &",
    "setsid, TERM ignored": "setsid bash -c 'trap \"\" TERM; sleep 300' &",
    "TERM trap in the command": "trap 'echo caught' TERM; setsid sleep 300 &",
}


@pytest.fixture
def graceful(settings):
    return orch.project_create("demo", actor="alice", shutdown_grace=GRACE)


def _processes(run_id: str) -> list[int]:
    return local.run_processes([run_id]).get(run_id, [])


@pytest.mark.parametrize("daemon", DAEMONS.values(), ids=DAEMONS.keys())
def test_stop_leaves_no_process_of_the_run(graceful, make_worker, until, daemon):
    task = orch.task_new("demo", payload=f"{daemon} sleep 301")
    make_worker(start=True)
    run_id = task.run_id
    until(lambda: len(_processes(run_id)) >= 3)  # bash, the daemon, sleep 301
    stopped = time.monotonic()
    orch.task_stop("demo", task.task_id, actor="carol")
    until(lambda: not _processes(run_id))
    assert time.monotonic() - stopped <= GRACE + 1.0
    until(lambda: orch.get_task_meta("demo", task.task_id).status == "cancelled")
    assert orch.get_task_meta("demo", task.task_id).error == "stopped by carol"


@pytest.mark.parametrize("daemon", DAEMONS.values(), ids=DAEMONS.keys())
def test_a_command_that_exits_leaves_no_process_of_the_run(graceful, make_worker, until, daemon):
    task = orch.task_new("demo", payload=f"{daemon} echo started; exit 0")
    make_worker(start=True)
    until(lambda: orch.get_task_meta("demo", task.task_id).is_terminal)
    assert not _processes(task.run_id)  # its end is recorded once its whole tree is gone
    meta = orch.get_task_meta("demo", task.task_id)
    assert (meta.status, meta.exit_code) == ("completed", 0)
    assert orch.read_task_log("demo", task.task_id).text.startswith("started\n")
    found, state = local.inspect(local.state_path(
        orch.current().tasks_root / "demo" / task.task_id, 1))  # fmt: skip
    assert found == "exited" and state["returncode"] == 0 and state["reason"] == "exited"
    assert state["finished_at"] - state["started_at"] <= GRACE + 1.0


def test_a_run_outlives_its_worker_process_group_and_session(graceful, make_worker, until):
    task = orch.task_new("demo", payload="sleep 301")
    worker = make_worker(start=True)
    until(lambda: _processes(task.run_id))
    state = until(lambda: local.read_state(local.state_path(
        orch.current().tasks_root / "demo" / task.task_id, 1)))  # fmt: skip

    supervisor = state["supervisor_pid"]
    assert os.getsid(supervisor) == supervisor != os.getsid(0)  # its own session
    assert os.getpgid(supervisor) != os.getpgid(0)
    assert local.supervisor_alive(state)
    assert worker.stop(timeout=15)
    assert local.supervisor_alive(state) and _processes(task.run_id)
    assert recovery.process_start(supervisor) is not None
