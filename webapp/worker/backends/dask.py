"""The Dask execution backend: runs go to a Dask cluster, the dashboard stays in charge.

On when ``WEBAPP_DASK_SCHEDULER`` names a scheduler (``tcp://host:8786`` or ``tls://``).
Each run is one Dask task (key ``webapp-<run id>``, ``pure=False``) running the standard
library runner of :mod:`webapp.worker.backends.dask_runner`, sent as source (workers cannot
import this package). Queued work waits in SQLite, not in Dask: :meth:`DaskBackend.free_slots`
says how many runs the cluster can take now, and is 0 while the scheduler is unreachable or
its ``allowed-failures`` is not 0 (then Dask would silently run a killed worker's task again;
:attr:`DaskBackend.reason` says why nothing is dispatched).

Output comes back as worker events on one topic per dashboard process, in order by sequence
number, gaps filled from the worker's copy. Stop goes to the worker that runs the command
(``client.run``); before it starts the future is cancelled. A killed worker, a lost
scheduler, or no end within grace + 5 s after a stop: :class:`RunLost`. The future is
released as soon as the run ends. Remote process IDs are never handed to local recovery.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from webapp.engine.errors import TaskCancelled, TaskExecutionError, TaskTimeoutError
from webapp.worker.backends import dask_runner

log = logging.getLogger("webapp.worker.dask")

SCHEDULER_ENV = "WEBAPP_DASK_SCHEDULER"
RESOURCES_ENV = "WEBAPP_DASK_RESOURCES"  # e.g. "slots=1": what each run asks of a worker
LOST_AFTER_STOP = 5.0  # no end within grace + this after a stop: lost
GAP_WAIT = 1.0  # how long the end waits for output events still in flight
CHECK_EVERY = 5.0  # seconds a passed configuration check is trusted
SLOTS_EVERY = 1.0  # seconds the cluster's slot count is trusted (workers come and go)
RETRY_CONNECT = 5.0  # seconds between attempts to reach an unreachable scheduler
RUNNER_SOURCE = inspect.getsource(dask_runner)

# Defined from source so that cloudpickle sends them by value (a worker cannot import us).
_REMOTE = """
def run_remote(source, request, topic):
    import socket
    from distributed import get_worker
    ns = {"__name__": "webapp_dask_runner"}
    exec(source, ns)
    worker = get_worker()
    where = {"host": socket.gethostname(), "worker": worker.address, "name": str(worker.name)}
    alive = lambda: worker.status.name in ("running", "paused")
    return ns["run"](request, lambda msg: worker.log_event(topic, msg), where, alive)

def stop_remote(source, run_id, grace):
    ns = {"__name__": "webapp_dask_runner"}
    exec(source, ns)
    return ns["stop"](run_id, grace)

def read_remote(source, path, seqs):
    ns = {"__name__": "webapp_dask_runner"}
    exec(source, ns)
    return ns["read_copy"](path, seqs)

def allowed_failures(dask_scheduler):
    return dask_scheduler.allowed_failures
"""
_remote: dict[str, Any] = {"__name__": "webapp_dask_remote"}
exec(_REMOTE, _remote)  # noqa: S102 - our own constant source


class RunLost(Exception):  # noqa: N818 - an outcome, as the state machine names it
    """The run's end cannot be known (its Dask worker or the scheduler went away)."""


def scheduler_address() -> str | None:
    return os.environ.get(SCHEDULER_ENV, "").strip() or None


def parse_resources(text: str | None) -> dict[str, float]:
    """``"slots=1,gpu=1"`` -> ``{"slots": 1.0, "gpu": 1.0}`` (empty: no resources)."""
    found = {}
    for part in (text or "").split(","):
        if part.strip():
            name, _, amount = part.partition("=")
            found[name.strip()] = float(amount or 1)
    return found


@dataclass
class _Run:
    run_id: str
    on_output: Callable[[str, bytes], object]
    future: Any = None
    worker: str | None = None
    host: str | None = None
    name: str | None = None
    next_seq: int = 1
    waiting: dict[int, dict[str, Any]] = field(default_factory=dict)
    started: threading.Event = field(default_factory=threading.Event)
    stop_grace: float | None = None
    stop_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class DaskBackend:
    """One client per dashboard process; thread-safe (each run blocks its own thread)."""

    def __init__(self, address: str, *, resources: dict[str, float] | None = None,
                 connect_timeout: float = 3.0) -> None:  # fmt: skip
        self.address = address
        self.resources = parse_resources(os.environ.get(RESOURCES_ENV)) if resources is None \
            else resources  # fmt: skip
        self.connect_timeout = connect_timeout
        self.topic = f"webapp-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.reason: str | None = "not connected yet"
        self._client: Any = None
        self._checked_until = 0.0
        self._slots_cache: tuple[float, int] = (0.0, 0)
        self._next_attempt = 0.0  # an unreachable scheduler is tried again from then on
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}
        self.last_where: dict[str, dict[str, str | None]] = {}
        """Where each ended run ran (the caller pops it)."""

    # -- the cluster -------------------------------------------------------------------------
    def client(self) -> Any | None:
        """The connected client, connecting (again) if needed; None while unreachable."""
        with self._lock:
            if self._client is not None and self._client.status == "running":
                return self._client
            if self._client is not None:
                with contextlib.suppress(Exception):
                    self._client.close(timeout=1)
                self._client = None
                self.reason = f"lost the Dask scheduler {self.address}"
            if time.monotonic() < self._next_attempt:
                return None
            self._next_attempt = time.monotonic() + RETRY_CONNECT
            try:
                from distributed import Client
            except ImportError:
                self.reason = "the Dask backend needs pip install 'webapp[dask]'"
                return None
            try:
                client = Client(self.address, timeout=self.connect_timeout,
                                set_as_default=False)  # fmt: skip
            except Exception as exc:
                self.reason = f"the Dask scheduler {self.address} is unreachable: {exc}"
                return None
            client.subscribe_topic(self.topic, self._on_event)
            self._client = client
            self.reason = None
            return client

    def check(self) -> str | None:
        """Why nothing may be dispatched now (None: all is well); a good answer is kept for
        CHECK_EVERY seconds."""
        client = self.client()
        if client is None:
            return self.reason
        if self.reason is None and time.monotonic() < self._checked_until:
            return None
        try:
            failures = client.run_on_scheduler(_remote["allowed_failures"])
        except Exception as exc:
            self.reason = f"the Dask scheduler {self.address} did not answer: {exc}"
            return self.reason
        if failures != 0:
            previous = self.reason
            self.reason = (
                f"the Dask scheduler allows {failures} failures per task: a killed worker's "
                "task would run again elsewhere; start it with "
                "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0"
            )
            if self.reason != previous:
                log.error("not dispatching to Dask: %s", self.reason)
        else:
            self.reason = None
            self._checked_until = time.monotonic() + CHECK_EVERY
        return self.reason

    def workers(self) -> dict[str, dict[str, Any]]:
        """Per Dask worker: host, slots, running, CPU, memory (empty while unreachable)."""
        client = self.client()
        if client is None:
            return {}
        try:
            info = client.scheduler_info(n_workers=-1)["workers"]
            processing = client.processing()
        except Exception as exc:
            self.reason = f"the Dask scheduler {self.address} did not answer: {exc}"
            return {}
        found = {}
        for address, worker in info.items():
            metrics = worker.get("metrics") or {}
            found[address] = {
                "host": worker.get("host"), "name": worker.get("name"),
                "slots": self._slots(worker), "running": len(processing.get(address, ())),
                "cpu": metrics.get("cpu"), "memory": metrics.get("memory"),
                "memory_limit": worker.get("memory_limit"),
            }  # fmt: skip
        return found

    def _slots(self, worker: dict[str, Any]) -> int:
        slots = int(worker.get("nthreads") or 0)
        have = worker.get("resources") or {}
        for name, amount in self.resources.items():
            slots = min(slots, int((have.get(name) or 0) // amount)) if amount else slots
        return slots

    def free_slots(self) -> int:
        """How many more runs the cluster takes now (0 unless it is reachable and safe)."""
        if self.check() is not None:
            return 0
        at, slots = self._slots_cache
        if time.monotonic() - at > SLOTS_EVERY:
            workers = self.workers()
            slots = sum(w["slots"] - w["running"] for w in workers.values())
            with self._lock:  # the cluster's own count includes this dashboard's runs
                slots += len(self._runs)
            self._slots_cache = (time.monotonic(), slots)
        with self._lock:
            mine = len(self._runs)
        return max(0, slots - mine)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=2)

    # -- output ------------------------------------------------------------------------------
    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        run = self._runs.get(msg.get("run"))
        if run is None:
            return
        if msg.get("kind") == "started":
            run.worker, run.host, run.name = msg.get("worker"), msg.get("host"), msg.get("name")
            run.started.set()
            if run.stop_at is not None:  # stopped while it was on its way to the worker
                threading.Thread(target=self._send_stop, args=(run,), daemon=True).start()
        elif msg.get("kind") == "output":
            self._deliver(run, [msg])

    def _deliver(self, run: _Run, chunks: list[dict[str, Any]]) -> None:
        with run.lock:
            for chunk in chunks:
                if chunk["seq"] >= run.next_seq:
                    run.waiting[chunk["seq"]] = chunk
            while run.next_seq in run.waiting:
                chunk = run.waiting.pop(run.next_seq)
                run.next_seq += 1
                try:
                    run.on_output(chunk["stream"], bytes(chunk["data"]))
                except Exception:
                    log.exception("dask run %s: the output callback failed", run.run_id)

    def _fill_gaps(self, run: _Run, last_seq: int, copy_path: str | None) -> None:
        deadline = time.monotonic() + GAP_WAIT
        while run.next_seq <= last_seq and time.monotonic() < deadline:
            time.sleep(0.005)
        if run.next_seq > last_seq or not copy_path or not run.worker:
            return
        with run.lock:
            missing = [s for s in range(run.next_seq, last_seq + 1) if s not in run.waiting]
        client = self.client()
        if client is None:
            return
        try:
            found = client.run(_remote["read_remote"], RUNNER_SOURCE, copy_path, missing,
                               workers=[run.worker])  # fmt: skip
        except Exception:
            log.exception("dask run %s: could not read the worker's copy", run.run_id)
            return
        self._deliver(run, found.get(run.worker) or [])

    # -- one run -----------------------------------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        request: dict[str, Any],
        on_output: Callable[[str, bytes], object],
        *,
        set_canceller: Callable[[Any], object] = lambda _: None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> subprocess.CompletedProcess:
        """Run ``argv`` on the cluster and wait for its end (as ``run_process`` answers:
        CompletedProcess, or TaskCancelled / TaskTimeoutError / TaskExecutionError), or
        :class:`RunLost`. ``request``: run_id, run_no, project_id, task_id, env, grace,
        timeout, git_repo, keep_daemons, resources."""
        client = self.client()
        if client is None:
            raise RunLost(self.reason or "the Dask scheduler is unreachable")
        run_id = request["run_id"]
        run = _Run(run_id, on_output)
        request = {**request, "argv": list(argv)}
        resources = request.pop("resources", None) or self.resources or None
        with self._lock:
            self._runs[run_id] = run
        done = threading.Event()
        try:
            run.future = client.submit(
                _remote["run_remote"], RUNNER_SOURCE, request, self.topic,
                key=f"webapp-{run_id}", pure=False, resources=resources, retries=0,
            )  # fmt: skip
            run.future.add_done_callback(lambda _: done.set())
            set_canceller(lambda grace=None: self.stop(run_id, grace))
            if cancelled():
                self.stop(run_id)
            grace = float(request.get("grace") or 0)
            while not done.wait(0.05):
                if client.status != "running":
                    raise RunLost("the Dask scheduler went away while the task ran")
                if run.stop_at is not None and time.monotonic() > run.stop_at + grace + \
                        LOST_AFTER_STOP:  # fmt: skip
                    raise RunLost("the task did not end within its grace + 5 s after a stop")
            return self._outcome(run, argv, request)
        finally:
            set_canceller(None)
            with self._lock:
                self._runs.pop(run_id, None)
                if run.worker:
                    self.last_where[run_id] = {"host": run.host, "name": run.name,
                                               "worker": run.worker}  # fmt: skip
            if run.future is not None:
                with contextlib.suppress(Exception):
                    run.future.release()  # never held: Dask must not run it again

    def _outcome(self, run: _Run, argv: Sequence[str], request: dict[str, Any]) -> Any:
        future = run.future
        if future.status == "cancelled":
            if run.stop_at is not None and not run.started.is_set():
                completed = subprocess.CompletedProcess(list(argv), None, "", "")
                raise TaskCancelled(f"Task {run.run_id!r} was cancelled", completed)
            raise RunLost("the Dask scheduler went away while the task ran")
        if future.status == "error":
            exc = future.exception()
            name = type(exc).__name__
            if name == "KilledWorker":
                raise RunLost(f"the Dask worker {run.worker or ''} running it died".replace(
                    "  ", " "))  # fmt: skip
            raise RunLost(f"the Dask runner failed: {name}: {exc}")
        state = future.result()
        run.worker, run.host = state.get("worker") or run.worker, state.get("host") or run.host
        self._fill_gaps(run, int(state.get("seq") or 0), state.get("copy"))
        return outcome(state, argv, run.run_id, request.get("timeout"))

    def stop(self, run_id: str, grace: float | None = None) -> None:
        """Stop a run: on its worker once started, else cancel its future."""
        run = self._runs.get(run_id)
        if run is None or run.stop_at is not None:
            return
        run.stop_grace, run.stop_at = grace, time.monotonic()
        if run.started.is_set():
            self._send_stop(run)
        elif run.future is not None:
            with contextlib.suppress(Exception):
                run.future.cancel()

    def _send_stop(self, run: _Run) -> None:
        client = self.client()
        if client is None or run.worker is None:
            return
        try:
            client.run(_remote["stop_remote"], RUNNER_SOURCE, run.run_id, run.stop_grace,
                       workers=[run.worker], wait=True)  # fmt: skip
        except Exception:
            log.exception("dask run %s: could not reach its worker to stop it", run.run_id)


def outcome(state: dict[str, Any], argv: Sequence[str], run_id: str, timeout: Any) -> Any:
    """The runner's end as the local handlers answer it."""
    completed = subprocess.CompletedProcess(
        list(argv), state.get("returncode"), state.get("stdout") or "", state.get("stderr") or ""
    )
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
