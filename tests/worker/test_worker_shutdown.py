"""Stopping a server or a worker process while a task runs: the process exits promptly, the
task goes on under its supervisor, and the next start reattaches to it: it finishes with a
whole log (never lost, never run twice)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner

from webapp import orchestration as orch
from webapp.cli import main
from webapp.worker.backends import local

#: Far below gunicorn's 30 s graceful timeout (what a stop took before), far above the
#: second or so it takes, even on a loaded machine.
EXIT_WITHIN = 10.0
STOPPED = "the server stopped while it ran"


def _env(settings) -> dict[str, str]:
    return {**os.environ, "WEBAPP_DATA_DIR": str(settings.data_dir),
            "WEBAPP_WORKER_POLL_INTERVAL": "0.05"}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _running_with_processes(task, until) -> str:
    """Wait until the task runs and its process exists; returns its run ID."""
    until(lambda: orch.get_task_meta("demo", task.task_id).status == "running", timeout=30)
    run_id = orch.get_task_meta("demo", task.task_id).run_id
    until(lambda: local.run_processes([run_id]), timeout=10)
    return run_id


def _stop_and_time(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> float:
    started = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return time.monotonic() - started


def _assert_detached_then_finished(task, run_id, output, gate, until, restart=None) -> None:
    """The task still runs after its server stopped; a restart (by default a worker in this
    process) reattaches and records its real end once it finishes; its log is whole."""
    assert orch.get_task_meta("demo", task.task_id).status == "running", output
    assert local.run_processes([run_id]), "the task's processes live on"
    _assert_every_worker_stopped()
    if restart is None:
        from webapp.worker import Worker

        worker = Worker(orch.current(), threads=1).start()
        stop = lambda: worker.stop(timeout=15)  # noqa: E731
    else:
        stop = restart()
    try:
        gate.touch()
        until(lambda: orch.get_task_meta("demo", task.task_id).status == "completed")
    finally:
        stop()
    meta = orch.get_task_meta("demo", task.task_id)
    assert (meta.exit_code, meta.runs) == (0, 1)
    log = orch.read_task_log("demo", task.task_id).text
    assert log.startswith("before\nafter\n") and "[webapp] exited with code 0" in log, log
    assert not local.run_processes([run_id])


def _assert_every_worker_stopped() -> None:
    live = (
        orch.current()
        .store.db.execute(
            "SELECT count(*) FROM workers WHERE stopped_at IS NULL AND reaped_at IS NULL"
        )
        .fetchone()[0]
    )
    assert live == 0, "every worker row is marked stopped"


@pytest.fixture
def gate(tmp_path):
    return tmp_path / "gate"


@pytest.fixture
def sleeper(project, gate):
    """A task that runs until the test opens its gate."""
    return orch.task_new(
        "demo", payload=f"echo before; while [ ! -f {gate} ]; do sleep 0.05; done; echo after"
    )


def test_sigterm_to_webapp_worker_exits_and_its_task_is_reattached(settings, sleeper, until, gate):
    argv = [sys.executable, "-m", "webapp.cli", "worker", "--threads", "2"]
    proc = subprocess.Popen(argv, env=_env(settings), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        run_id = _running_with_processes(sleeper, until)
    finally:
        took = _stop_and_time(proc)
    output = proc.stdout.read().decode(errors="replace")
    proc.stdout.close()
    assert took < EXIT_WITHIN and proc.returncode == 0, (took, proc.returncode, output)
    _assert_detached_then_finished(sleeper, run_id, output, gate, until)


def test_sigterm_to_webapp_serve_mid_run_loses_no_task(settings, sleeper, until, tmp_path, gate):
    # ~6 s: gunicorn starts two worker processes, each with its own task worker; it is
    # stopped with SIGTERM mid-run (an upgrade) and started again.
    def serve(name: str) -> subprocess.Popen:
        argv = [sys.executable, "-m", "webapp.cli", "serve", "--port", str(_free_port()),
                "--workers", "2"]  # fmt: skip
        with (tmp_path / name).open("w") as out:
            return subprocess.Popen(argv, env=_env(settings), stdout=out, stderr=subprocess.STDOUT)

    proc = serve("serve.log")
    try:
        run_id = _running_with_processes(sleeper, until)
    finally:
        took = _stop_and_time(proc)
    output = (tmp_path / "serve.log").read_text()
    assert took < EXIT_WITHIN and proc.returncode == 0, (took, proc.returncode, output)

    def restart():
        again = serve("serve-again.log")
        return lambda: _stop_and_time(again)

    _assert_detached_then_finished(sleeper, run_id, output, gate, until, restart)


def test_a_process_exiting_with_its_app_worker_lets_its_task_go_on(settings, sleeper, until, gate):
    script = textwrap.dedent(f"""
        import sys, time
        from webapp import create_app, orchestration as orch
        from webapp.worker.backends import local
        app = create_app({{"WORKER_ENABLED": True, "SECRET_KEY": "x",
                           "CREATE_FIRST_ADMIN": False}})
        with orch.bind(orch.settings_of(app)):
            deadline = time.monotonic() + 30
            while not (orch.get_task_meta("demo", {sleeper.task_id!r}).status == "running"
                       and local.run_processes([{sleeper.run_id!r}])):
                assert time.monotonic() < deadline, "the task never ran"
                time.sleep(0.02)  # deadline loop in the child
        print("running", flush=True)
        sys.exit(0)  # the interpreter exits with the worker's thread pool busy
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], env=_env(settings),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert proc.stdout.readline() == b"running\n"
        started = time.monotonic()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    took = time.monotonic() - started
    output = proc.stdout.read().decode(errors="replace")
    proc.stdout.close()
    assert took < EXIT_WITHIN and proc.returncode == 0, (took, proc.returncode, output)
    _assert_detached_then_finished(sleeper, sleeper.run_id, output, gate, until)


def test_the_worker_command_gives_back_the_signal_handlers_it_borrowed(tmp_path):
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    argv = ["worker", "--exit-when-idle", "--data-dir", str(tmp_path / "data")]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    # Ctrl-C raises KeyboardInterrupt again in the calling process (a test run, a script)
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_a_stopping_worker_ends_its_graph_lost_members_and_runs_nothing_more(
    project, make_worker, until, tmp_path
):
    ran = tmp_path / "ran.txt"
    graph = orch.graph_new("demo", {"tasks": [
        {"key": "slow", "payload": "sleep 300"},
        {"key": "next", "payload": f"echo next >> {ran}", "after": ["slow"]},
    ]})  # fmt: skip
    slow, after = (m.task_id for m in graph.members)
    worker = make_worker(start=True)
    until(lambda: orch.get_task_meta("demo", slow).status == "running")
    run_id = orch.get_task_meta("demo", slow).run_id
    until(lambda: local.run_processes([run_id]))
    assert worker.stop(timeout=10)
    assert not local.run_processes([run_id])
    meta = orch.get_task_meta("demo", slow)
    assert (meta.status, meta.error) == ("lost", STOPPED)
    assert orch.get_task_meta("demo", after).status in ("cancelled", "blocked")
    assert orch.graph_get("demo", graph.graph_id).status == "cancelled"
    make_worker(start=True)  # a fresh start requeues nothing and runs nothing of it
    assert orch.graph_get("demo", graph.graph_id).status == "cancelled"
    assert orch.get_task_meta("demo", slow).status == "lost" and not ran.exists()


def test_a_run_claimed_while_its_worker_stops_never_starts(project, make_worker, until, tmp_path):
    ran = tmp_path / "ran"
    task = orch.task_new("demo", payload=f"touch {ran}")
    worker = make_worker()
    worker._ending = True  # the state stop() sets before it looks at what runs: a claim
    assert worker.run_once() == 1  # racing with it still hands the run to a thread...
    until(lambda: orch.get_task_meta("demo", task.task_id).is_terminal)
    meta = orch.get_task_meta("demo", task.task_id)
    assert (meta.status, meta.error) == ("lost", "the server stopped before it started")
    assert not ran.exists()  # ...which records it lost instead of running it
