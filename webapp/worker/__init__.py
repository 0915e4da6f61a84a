"""The worker: claims queued tasks from SQLite and runs them, crash-safe.

One claimer thread loops ``while not stopped: run_once(); wait(poll)``; ``run_once``
heartbeats, reaps dead workers, handles stop requests and claims as many queued tasks as
it has free executor threads (``WORKER_THREADS``) in one ``BEGIN IMMEDIATE`` transaction.
A thread that finishes a run claims the next one inside the transaction that saves the
run's end (one commit per task instead of two). Each task runs in its workspace with the
project's environment (see :mod:`webapp.worker.runs`). Any number of processes may run
workers against one database (``webapp worker`` or the web server's own). Shell commands
run under run supervisors (:mod:`webapp.worker.supervisor`) that outlive the worker:
``stop()`` (or the process exiting) lets go of them and a later worker reattaches
(:mod:`webapp.worker.reattach`); see :mod:`webapp.worker.shutdown`.

Tests step the loop with ``run_once(now=...)`` instead of sleeping.
"""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from webapp.engine import Task, TaskExecutor
from webapp.orchestration import deletion, recovery
from webapp.orchestration.archive_index import apply_archive_retention
from webapp.orchestration.context import Settings, bind_forever, settings_of
from webapp.orchestration.status import derive_status
from webapp.store import graph_records, records, workers
from webapp.worker.automation import AutomationLoop
from webapp.worker.backends import dask_handler, local
from webapp.worker.graphs import GraphDriver, GraphExecution
from webapp.worker.indexer import LogIndexer
from webapp.worker.reattach import AdoptedRun, Reattach
from webapp.worker.runs import RunExecution, RunningTask, log
from webapp.worker.shutdown import (
    SHUTDOWN_GRACE,
    STOPPED_REASON,
    Shutdown,
    forget_at_exit,
    stop_at_exit,
)
from webapp.worker.supervised import SupervisedRuns

EXTENSION_KEY = "webapp.worker"

__all__ = ["EXTENSION_KEY", "STOPPED_REASON", "RunningTask", "Worker", "init_app"]


class Worker(RunExecution, SupervisedRuns, GraphExecution, Shutdown, Reattach):
    """Claims and runs queued tasks; ``start()`` runs it on threads, ``run_once()`` steps it.

    ``supervised=False`` runs shell commands as plain subprocesses of the worker (no
    supervisor: they die with it); the benchmark compares the two paths.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        threads: int | None = None,
        name: str = "worker",
        supervised: bool = True,
        cluster: Any = None,
    ):
        self.settings = settings
        self.supervised = supervised
        self.backend = local.LocalBackend()
        self.cluster = cluster if cluster is not None else dask_handler.backend_from_env()
        self.store = settings.store
        self.threads = threads or settings.worker_threads
        me = recovery.this_process()
        self.id = f"{name}:{me['hostname']}:{me['pid']}:{secrets.token_hex(3)}"
        self.executor = TaskExecutor.empty(self.store)
        self._register_handlers()
        if self.cluster is not None:  # shell runs go to the Dask cluster
            dask_handler.install(self, self.cluster)
        self._running: dict[str, RunningTask | GraphDriver] = {}
        self._members: dict[str, RunningTask] = {}  # tasks of the graphs being driven here
        self._spawned: list[tuple[int, int, str | None, str]] = []
        self._lock = threading.Lock()
        self._handoff = threading.local()  # runs claimed while saving this thread's run
        self._idle = threading.Condition(self._lock)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="webapp-task")
        self._stop_flag = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._registered = False
        self._ended = False
        self._next_beat = 0.0
        self._next_retention = 0.0
        self._last_beat_ok: float | None = None
        self._init_reattach()
        self.automation = AutomationLoop(settings)
        self._indexer = LogIndexer(settings)

    # -- handlers ------------------------------------------------------------------------------
    def register(self) -> None:
        """Write this worker's row (host, PID and its start time, heartbeat)."""
        bind_forever(self.settings)
        me = recovery.this_process()
        now = time.time()
        workers.register_worker(
            self.store.db,
            {"id": self.id, **me, "threads": self.threads, "started_at": now, "heartbeat_at": now},
        )
        self._registered = True
        stop_at_exit(self)  # at the latest when the process exits
        self.store.default_actor = self.id  # for the engine's own threads (graph members)
        self._next_beat = now + self.settings.heartbeat_interval

    def recover(self, now: float | None = None) -> list[dict[str, Any]]:
        """Settle dead workers' runs (reattach, record, or mark lost), finish interrupted
        deletes, apply retention; returns the runs marked lost."""
        bind_forever(self.settings)
        lost = self.reap(now=now)
        deletion.resume_interrupted_deletes(actor=self.id)
        self._apply_retention()
        return lost

    def start(self) -> Worker:
        """Register, recover, then run the claim loop on a daemon thread."""
        if self._thread is not None:
            return self
        if not self._registered:
            self.register()
        if self.supervised:
            self.backend.warm()
        self.recover()
        self._thread = threading.Thread(target=self._loop, name=f"{self.id}", daemon=True)
        self._thread.start()
        self.automation.start()
        self._indexer.start()
        return self

    def _loop(self) -> None:
        bind_forever(self.settings)
        self.store.set_actor(self.id)
        while not self._stop_flag.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("worker %s: loop step failed", self.id)
            self._wake.wait(self.settings.worker_poll_interval)
            self._wake.clear()

    def stop(self, timeout: float = 10.0, *, cancel: bool = True) -> bool:
        """Stop claiming and join; True once nothing runs here any more.

        ``cancel`` (the default): shell runs are let go of (they go on under their
        supervisors and the next worker reattaches); other running tasks end now, recorded
        lost with the reason STOPPED_REASON (never run again by themselves), their processes
        killed after SHUTDOWN_GRACE. ``cancel=False`` lets them finish (within ``timeout``).
        """
        if self._ended:
            return True
        self._stop_flag.set()
        self._wake.set()
        self.automation.stop()
        self._indexer.stop()
        deadline = time.monotonic() + timeout
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        ended_runs = self._end_running(min(timeout, SHUTDOWN_GRACE)) if cancel else []
        if cancel:
            self._release_adopted()
        with self._idle:
            while self._running and time.monotonic() < deadline:
                self._idle.wait(max(0.0, deadline - time.monotonic()))
            ended = not self._running
        self._pool.shutdown(wait=ended)
        self._kill_leftovers(ended_runs)
        self.backend.close()
        if self.cluster is not None:
            self.cluster.close()
        if ended:
            self._ended = True
            forget_at_exit(self)
            if self._registered:
                workers.mark_worker_stopped(self.store.db, self.id, time.time())
        return ended

    def is_idle(self) -> bool:
        """Nothing running here and nothing queued anywhere."""
        with self._lock:
            if self._running:
                return False
        db = self.store.db
        return not workers.has_queued(db) and not graph_records.has_queued_graph(db)

    # -- one step ----------------------------------------------------------------------------------
    def run_once(self, now: float | None = None) -> int:
        """Heartbeat/reap when due, act on stop requests, claim and start; returns started."""
        bind_forever(self.settings)
        if not self._registered:
            self.register()
        now = time.time() if now is None else now
        if now >= self._next_beat:
            self._beat(now)
        self._handle_stop_requests()
        if self._stop_flag.is_set():
            return 0
        return self._claim_and_start()

    def _beat(self, now: float) -> None:
        self._next_beat = now + self.settings.heartbeat_interval
        try:  # not behind this process's write lock: a long write must not delay it
            alive = workers.heartbeat(self.store.db, self.id, now)
        except Exception:
            self._writable_since = None  # another host's silence proves nothing now
            raise
        written = time.time()
        gap = 3 * self.settings.heartbeat_interval + 1.0
        if self._last_beat_ok is None or written - self._last_beat_ok > gap:
            self._writable_since = written
        self._last_beat_ok = written
        if not alive:
            log.error("worker %s was declared dead by another worker; re-registering", self.id)
            self.id = f"{self.id.rsplit(':', 1)[0]}:{secrets.token_hex(3)}"
            self.store.set_actor(self.id)
            self.register()
        self.reap(now=now)
        deletion.resume_interrupted_deletes(actor=self.id, skip_running=True)
        if now >= self._next_retention:
            self._next_retention = now + self.settings.retention_interval
            self._apply_retention()

    def _apply_retention(self) -> None:
        settings = self.settings
        if not (settings.archive_max_age_days or settings.archive_keep_last):
            return
        for project in records.list_projects(self.store.db):
            try:
                apply_archive_retention(
                    project["id"],
                    max_age_days=settings.archive_max_age_days or None,
                    keep_last=settings.archive_keep_last or None,
                )  # fmt: skip
            except Exception:
                log.exception("archive retention failed for project %s", project["id"])

    def _handle_stop_requests(self) -> None:
        db = self.store.db
        for request in workers.pending_stop_requests(db, self.id):
            run = self._find(request["run_id"])
            adopted = self._running.get(request["run_id"])
            if isinstance(adopted, AdoptedRun):
                local.stop_supervisor(adopted.state)
            elif run is not None:
                self.executor.cancel(run.task, grace=request["grace"])
            with self.store.write_lock:
                workers.mark_stop_handled(db, request["run_id"])

    def _claim_and_start(self) -> int:
        """Claim as many runs as there are free threads and hand them to the pool; also
        writes queued process records."""
        with self.store.write_lock:
            runs = self._claim()
        for run in runs:
            self._pool.submit(self._execute, run)
        return len(runs)

    def _claim(self, *, finishing: bool = False) -> list[RunningTask]:
        """Claim runs for the free threads (the caller holds ``store.write_lock``).

        ``finishing``: called inside the transaction that saves a run's end, whose thread
        is about to be free: one more slot, and the claim commits with that save.
        """
        with self._lock:
            slots = self.threads - len(self._running) + int(finishing)
            spawned, self._spawned = self._spawned, []
        db = self.store.db
        free = slots if slots > 0 and workers.has_queued(db) else 0
        if free and self.cluster is not None:  # queued work waits here, not in Dask
            free = min(free, self.cluster.free_slots())
        if not free and not spawned:
            return self._claim_graphs(db, slots)
        try:
            with self.store.lock:
                claimed = workers.claim_runs(
                    db, self.id, free, global_limit=self.settings.max_concurrent_tasks,
                    derive=derive_status, spawned=spawned,
                )  # fmt: skip
        except BaseException:
            with self._lock:
                self._spawned[:0] = spawned
            raise
        projects: dict[str, dict[str, Any]] = {}
        runs = []
        for row in claimed:
            project_id = row["project_id"]
            if project_id not in projects:
                projects[project_id] = records.get_project(db, project_id) or {}
            runs.append(self._prepare(row, projects[project_id]))
        with self._lock:
            for run in runs:
                self.store.claimed_running(run.task.id)
                self._running[run.task.id] = run
        return runs + self._claim_graphs(db, slots - len(runs))

    def _claim_graphs(self, db: Any, slots: int) -> list[GraphDriver]:
        driver = self._claim_graph(db) if slots > 0 else None
        if driver is None:
            return []
        with self._lock:
            self._running[driver.graph_id] = driver
        return [driver]

    def _claim_while_saving(self, db: Any, task: Task) -> None:
        """Store hook on this worker's threads: a run's end is being saved; claim the next
        runs in the same transaction (one commit instead of two per task)."""
        if self._stop_flag.is_set() or task.id != getattr(self._handoff, "current", None):
            return
        try:  # a failed claim rolls back to its savepoint; the run's end is still saved
            self._handoff.runs = self._claim(finishing=True)
        except Exception:
            log.exception("worker %s: claiming while saving %s failed", self.id, task.id)

    def _drop_handoff(self) -> None:
        """The save (and the claim inside it) rolled back: forget what it claimed."""
        runs = getattr(self._handoff, "runs", None) or []
        self._handoff.runs = []
        with self._lock:
            for run in runs:
                self._running.pop(run.id, None)
                self.store.forget_claim(run.id)


def init_app(app: Any) -> Worker | None:
    """Start a worker in this server process when ``WORKER_ENABLED`` (after orchestration)."""
    if not app.config.get("WORKER_ENABLED"):
        return None
    worker = Worker(settings_of(app)).start()  # stopped when the process exits
    app.extensions[EXTENSION_KEY] = worker
    return worker
