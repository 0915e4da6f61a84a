"""The local execution backend: runs under run supervisors, and all process control.

:class:`LocalBackend` keeps one fork server per worker process (see
:mod:`webapp.worker.supervisor`) and starts each run through it: a socket pair per run, one
end passed to the fork server, which forks the run's supervisor. The worker then waits on its
end for the exit message; stop requests go back over it. A run's supervisor outlives its
worker; a later worker finds it through the run's state file (``runs/<run_no>.json`` in the
task's folder), checks it by PID *and* start time, waits for it (a pidfd) and stops it with
SIGTERM (the supervisor then ends the whole tree).

Everything else that signals task processes lives here too: finding a run's processes by the
``WEBAPP_RUN_ID`` in their environment, and killing what a run with no supervisor left.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from webapp.engine.context import TaskContext
from webapp.engine.errors import TaskCancelled, TaskExecutionError, TaskTimeoutError
from webapp.orchestration.logs import writer
from webapp.worker import supervisor as sup

RUNS_DIR = "runs"
RUN_ENV = "WEBAPP_RUN_ID"
_FORK_SERVER = (
    "import importlib.util as u, sys; s = u.spec_from_file_location('webapp_run_supervisor', "
    "sys.argv[1]); m = u.module_from_spec(s); sys.modules[s.name] = m; s.loader.exec_module(m); "
    "m.main(sys.argv[2:])"
)
_POLL = 0.25  # how often a waiting worker thread looks at its detach flag


class RunDetached(Exception):  # noqa: N818 - a state, not a failure
    """The worker let go of a run that goes on under its supervisor."""


def state_path(task_dir: Path, run_no: int) -> Path:
    """The run's state file: written by its supervisor at the start and at the end."""
    return Path(task_dir) / RUNS_DIR / f"{run_no}.json"


def read_state(path: Path) -> dict[str, Any] | None:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def supervisor_alive(state: dict[str, Any] | None) -> bool:
    """Is the supervisor a state file names still running (same PID, same start time)?"""
    if not state or not state.get("supervisor_pid"):
        return False
    return sup.proc_start(int(state["supervisor_pid"])) == state.get("supervisor_start")


def inspect(path: Path) -> tuple[str, dict[str, Any] | None]:
    """``("exited", final state)``, ``("alive", start state)`` or ``("none", state-or-None)``
    for the run whose (start) state file is ``path``."""
    final = read_state(sup.exit_path(path))
    if final is not None:
        return "exited", final
    state = read_state(path)
    if supervisor_alive(state):
        return "alive", state
    final = read_state(sup.exit_path(path))  # it may have finished between the reads
    if final is not None:
        return "exited", final
    return "none", state


def stop_supervisor(state: dict[str, Any]) -> bool:
    """Ask a (reattached) run's supervisor to stop its run; False if it is gone."""
    if not supervisor_alive(state):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(int(state["supervisor_pid"]), signal.SIGTERM)
        return True
    return False


def wait_supervisor(state: dict[str, Any], stop: threading.Event) -> bool:
    """Block until the supervisor exits (True) or ``stop`` is set (False)."""
    pid = int(state["supervisor_pid"])
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return True
    try:
        if not supervisor_alive(state):
            return True
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], _POLL)
            if ready:
                return True
        return False
    finally:
        os.close(fd)


def completed_from(state: dict[str, Any], argv: Sequence[str] = ()) -> subprocess.CompletedProcess:
    """The CompletedProcess a final state stands for (``log_truncated``: the log hit its cap,
    so nothing more is appended to it)."""
    completed = subprocess.CompletedProcess(
        list(argv), state.get("returncode"), state.get("stdout") or "", state.get("stderr") or ""
    )
    completed.log_truncated = bool(state.get("log_truncated"))
    return completed


def raise_outcome(state: dict[str, Any], argv: Sequence[str], run_id: str, timeout: Any) -> Any:
    """Turn a supervisor's final state into the handler's answer (as ``run_process`` does)."""
    completed = completed_from(state, argv)
    reason = state.get("reason")
    if reason == "stopped":
        raise TaskCancelled(f"Task {run_id!r} was cancelled", completed)
    if reason == "timeout":
        raise TaskTimeoutError(f"Task timed out after {timeout} seconds", completed)
    if reason == "error":
        raise OSError(state.get("error") or "the command could not start")
    if completed.returncode != 0:
        message = completed.stderr or f"exited with code {completed.returncode}"
        raise TaskExecutionError(message, completed)
    return completed


# -- the fork server ----------------------------------------------------------------------------
class LocalBackend:
    """Starts runs under supervisors through one fork server (started on first use)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: subprocess.Popen | None = None
        self._control: socket.socket | None = None

    def _start_server(self) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._server = subprocess.Popen(
            [sys.executable, "-S", "-c", _FORK_SERVER, sup.__file__, str(theirs.fileno()),
             writer.__name__, writer.__file__],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
        )  # fmt: skip
        theirs.close()
        self._control = mine

    def warm(self) -> None:
        """Start the fork server now (a worker's first run then waits for nothing)."""
        with self._lock:
            if self._control is None:
                self._start_server()

    def start(self, request: dict[str, Any]) -> socket.socket:
        """Fork a supervisor for ``request``; returns the worker's end of its socket."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                for attempt in range(2):
                    if self._control is None or self._server.poll() is not None:
                        self._close_server()
                        self._start_server()
                    try:
                        socket.send_fds(self._control, [b"r"], [theirs.fileno()])
                        break
                    except OSError:
                        self._close_server()
                        if attempt:
                            raise
        finally:
            theirs.close()
        mine.sendall(json.dumps(request).encode() + b"\n")
        return mine

    def _close_server(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is not None:
            try:
                self._server.wait(5)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait()
            self._server = None

    def close(self) -> None:
        """End the fork server (the supervisors it forked go on)."""
        with self._lock:
            self._close_server()


def run_supervised(
    backend: LocalBackend,
    argv: Sequence[str],
    context: TaskContext,
    request: dict[str, Any],
    *,
    on_spawn: Callable[[TaskContext, dict[str, Any]], object] | None = None,
    on_exit: Callable[[TaskContext, dict[str, Any]], object] | None = None,
    detached: Callable[[], bool] = lambda: False,
) -> subprocess.CompletedProcess:
    """Run ``argv`` under a supervisor and wait for its end (or until ``detached()``).

    ``on_spawn(context, state)`` learns the supervisor's and the command's processes,
    ``on_exit(context, state)`` the supervisor's final state before the outcome is raised
    or returned."""
    request = {**request, "argv": list(argv), "run_id": context.id, "timeout": context.timeout}
    conn = backend.start(request)
    conn.settimeout(_POLL)
    inbox = bytearray()
    final: dict[str, Any] | None = None

    def stop(grace: float | None = None) -> None:
        with contextlib.suppress(OSError):
            sup.send_frame(conn, sup.STOP, json.dumps({"grace": grace}).encode())

    try:
        context.set_canceller(stop)
        if context.cancelled:
            stop()
        while final is None:
            if detached():
                raise RunDetached(context.id)
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            if not data:
                break
            inbox += data
            while (frame := sup.read_frame(conn, inbox)) is not None:
                kind, payload = frame
                state = json.loads(payload)
                if kind == sup.STARTED and on_spawn is not None:
                    on_spawn(context, state)
                elif kind == sup.EXITED:
                    final = state
    finally:
        context.set_canceller(None)
        conn.close()
    if final is None:  # the supervisor died without a word: its state file may know more
        final = read_state(sup.exit_path(Path(request["state_path"]))) or {}
        if "reason" not in final:
            raise TaskExecutionError("the run's supervisor died before the command ended")
    if on_exit is not None:
        on_exit(context, final)
    return raise_outcome(final, argv, context.id, context.timeout)


def end_supervised_runs(root: Path, timeout: float = 30.0) -> int:
    """Stop every live supervisor of the runs under ``root`` (a data or tasks folder) and
    wait for them (tests and tools that must leave nothing behind); returns how many."""
    states = [read_state(p) for p in Path(root).rglob(f"{RUNS_DIR}/*.json")
              if not p.name.endswith(".exit.json")]  # fmt: skip
    live = [s for s in states if supervisor_alive(s)]
    for state in live:
        stop_supervisor(state)
    never = threading.Event()
    timer = threading.Timer(timeout, never.set)
    timer.start()
    try:
        for state in live:
            wait_supervisor(state, never)
    finally:
        timer.cancel()
    return len(live)


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            fields = data[data.rfind(b")") + 2 :].split()
            if fields[0] not in (b"Z", b"X") and fields[2] == str(pgid).encode():
                found.append(int(entry.name))
    return found


# -- processes by run ID (runs without a supervisor, the last sweep) ----------------------------
def run_processes(run_ids: list[str]) -> dict[str, list[int]]:
    """Live processes carrying ``WEBAPP_RUN_ID=<run id>`` in their environment, by run."""
    wanted = {f"{RUN_ENV}={run_id}".encode(): run_id for run_id in run_ids}
    found: dict[str, list[int]] = {}
    if not wanted:
        return found
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as fh:
                variables = fh.read().split(b"\0")
        except OSError:
            continue
        for variable in variables:
            run_id = wanted.get(variable)
            if run_id is not None and sup.proc_start(int(entry.name)):
                found.setdefault(run_id, []).append(int(entry.name))
    return found


def kill_run_processes(run_ids: list[str], *, rounds: int = 5) -> int:
    """SIGKILL every live process of these runs and their process groups; returns how many."""
    killed: set[int] = set()
    for _ in range(rounds):
        found = [pid for pids in run_processes(run_ids).values() for pid in pids]
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
    return len(killed)
