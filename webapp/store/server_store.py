"""ServerStore: the SQLiteStore the server and its workers use.

Every engine save of a run also updates, in the same transaction, the run's row, its task
record (when it is the task's current run: statuses, exit code, times, version) and the
project's version, and appends a transition whenever the status a user sees changes. Who
caused it is the calling thread's actor (``with store.acting("alice"): ...``), except that
a cancellation asked for by a stop request is attributed to whoever asked.

A run declared lost (its worker died) refuses later saves from its old owner: the save
raises ``StaleRun`` and is rolled back, so a zombie worker cannot overwrite "lost".

``write_lock`` serialises this process's write transactions (saves, claims, lifecycle
operations); other processes still meet SQLite's own lock and busy timeout.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator

from sqlite_utils import Database

from webapp.engine.graph import TaskGraph
from webapp.engine.task import Task, TaskStatus
from webapp.store.automation import automation_migrations
from webapp.store.db import apply_migrations
from webapp.store.records import bump_project, now_text
from webapp.store.records_schema import records_migrations
from webapp.store.sqlite import SQLiteGraphCollection, SQLiteStore, SQLiteTaskCollection
from webapp.store.workers import delete_stop_request, get_stop_request

_TERMINAL = frozenset(status.value for status in TaskStatus if status.is_terminal)
_HOOK_SELECT = (
    "SELECT r.project_id, r.task_id, r.run_no, r.lost, t.run_id, t.status, t.deleting, "
    "t.stop_requested_by FROM runs r LEFT JOIN task_records t ON t.project_id = r.project_id "
    "AND t.task_id = r.task_id WHERE r.run_id = ?"
)
_HOOK_RUN = (
    "UPDATE runs SET status = ?, reason = ?, exit_code = ?, finished_at = ? WHERE run_id = ?"
)
_HOOK_RECORD = (
    "UPDATE task_records SET engine_status = ?, status = ?, reason = ?, exit_code = ?, "
    "error = ?, finished_at = ?, version = version + 1 WHERE project_id = ? AND task_id = ?"
)
_HOOK_STARTED = "UPDATE task_records SET started_at = ? WHERE run_id = ?"
_HOOK_TRANSITION = (
    "INSERT INTO transitions (project_id, task_id, run_id, run_no, at, actor, from_status, "
    "to_status, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
REASON_CHARS = 300


class StaleRun(RuntimeError):
    """A save for a run that was already declared lost; it is refused."""


def _first_line(text: str | None) -> str | None:
    if not text:
        return None
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:REASON_CHARS] or None


def describe_outcome(task: Task, stopped_by: str | None = None) -> str | None:
    """A short human reason for the state a run is in (for the transitions log)."""
    result = task.result
    status = task.status
    if status is TaskStatus.DONE:
        return "exit code 0" if result and result.returncode == 0 else "completed"
    if status is TaskStatus.CANCELLED:
        return f"stopped by {stopped_by}" if stopped_by else _first_line(task.error) or "cancelled"
    if status is TaskStatus.BLOCKED:
        return f"blocked by {task.blocked_by}" if task.blocked_by else "blocked"
    if status is TaskStatus.FAILED and result is not None:
        if result.termination_reason == "exit_code" and result.returncode is not None:
            code = f"exit code {result.returncode}"
            detail = _first_line(result.error)
            if detail and detail != f"exited with code {result.returncode}":
                return f"{code}: {detail}"
            return code
        return _first_line(result.error or task.error) or result.termination_reason
    return None


class _ServerTasks(SQLiteTaskCollection):
    """``store.tasks`` that skips the executor's STARTED save of a run the claim already
    marked running in the same rows (it would rewrite them unchanged)."""

    def save(self, task: Task) -> None:
        store = self._store
        if task.id in store._detached:
            return  # this process let go of the run: another worker records its end
        if task.status is TaskStatus.RUNNING and task.result is None:
            with store._claimed_lock:
                if task.id in store._claimed:
                    store._claimed.discard(task.id)
                    return
        with store.write_lock:
            try:
                super().save(task)
            except BaseException:
                rolled_back = getattr(store._local, "on_rollback", None)
                if rolled_back is not None:
                    rolled_back()
                raise

    def cancel(self, task_id: str) -> None:
        with self._store.write_lock:
            super().cancel(task_id)


class _ServerGraphs(SQLiteGraphCollection):
    """``store.graphs`` whose saves queue on the process's write lock too."""

    def save(self, graph: TaskGraph) -> None:
        with self._store.write_lock:
            super().save(graph)


class ServerStore(SQLiteStore):
    """SQLiteStore plus the orchestration tables and the transition-recording hook."""

    def __init__(self, path: str | os.PathLike, *, derive: Callable[..., str]):
        super().__init__(path)
        self.derive = derive
        self._local = threading.local()
        self._claimed: set[str] = set()
        self._detached: set[str] = set()
        self._claimed_lock = threading.Lock()
        # Threads of this process queue here for write transactions: a Python lock hands
        # over at once, where SQLite's busy handler sleeps 1-100 ms between retries.
        self.write_lock = threading.RLock()
        self.tasks = _ServerTasks(self)
        self.graphs = _ServerGraphs(self)
        self.default_actor: str | None = None  # a worker process's id, for engine threads
        with self.lock:
            apply_migrations(self.db, records_migrations, automation_migrations)

    def claimed_running(self, run_id: str) -> None:
        """The claim wrote ``run_id`` as running: its next RUNNING save is a no-op."""
        with self._claimed_lock:
            self._claimed.add(run_id)

    def detach(self, run_id: str) -> None:
        """This process lets go of ``run_id`` (it goes on elsewhere): its saves are dropped."""
        with self._claimed_lock:
            self._detached.add(run_id)

    def attach(self, run_id: str) -> None:
        """A worker of this process takes ``run_id`` back (it reattached to it)."""
        with self._claimed_lock:
            self._detached.discard(run_id)

    def forget_claim(self, run_id: str) -> None:
        with self._claimed_lock:
            self._claimed.discard(run_id)

    # -- who is acting on this thread ----------------------------------------------------------
    @contextlib.contextmanager
    def acting(self, actor: str, reason: str | None = None) -> Iterator[None]:
        """Attribute saves made by this thread inside the block to ``actor`` (and ``reason``)."""
        before = (getattr(self._local, "actor", None), getattr(self._local, "reason", None))
        self._local.actor, self._local.reason = actor, reason
        try:
            yield
        finally:
            self._local.actor, self._local.reason = before

    def set_actor(self, actor: str) -> None:
        """Make ``actor`` this thread's default (a worker's executor threads)."""
        self._local.actor = actor

    def set_save_hooks(self, on_finish: Callable | None, on_rollback: Callable | None) -> None:
        """For this thread: ``on_finish(db, task)`` runs inside the transaction that saves
        the end of a task's current run (a worker claims its next run there);
        ``on_rollback()`` runs when such a save fails and its transaction is rolled back."""
        self._local.on_finish, self._local.on_rollback = on_finish, on_rollback

    @property
    def actor(self) -> str:
        return getattr(self._local, "actor", None) or self.default_actor or "system"

    # -- the hook ------------------------------------------------------------------------------
    def _after_task_save(
        self, db: Database, task: Task, previous_status: TaskStatus | None
    ) -> None:
        conn = db.conn
        found = conn.execute(_HOOK_SELECT, [task.id]).fetchone()
        if found is None:
            if task.status is TaskStatus.PENDING:
                return  # an engine task the orchestration does not track (yet)
            # A run whose task was deleted: refuse, or the save would resurrect its row.
            raise StaleRun(f"run {task.id} belongs to no task (was it deleted?)")
        project_id, task_id, run_no, lost, current_run, shown, deleting, stop_asked = found
        result = task.result
        termination = result.termination_reason if result else None
        if lost and not (task.status is TaskStatus.FAILED and termination == "lost"):
            raise StaleRun(f"run {task.id} of task {project_id}/{task_id} was declared lost")
        status = task.status.value
        if previous_status is task.status:
            return  # a re-save (a graph's closing save, a claimed run's STARTED): no change
        now = now_text()
        finished = now if status in _TERMINAL and result is not None else None
        exit_code = result.returncode if result else None
        conn.execute(_HOOK_RUN, [status, termination, exit_code, finished, task.id])
        stop = None
        if stop_asked or status == "cancelled":  # stop requests exist only then
            stop = get_stop_request(db, task.id) if status == "cancelled" else None
            if status in _TERMINAL:
                delete_stop_request(db, task.id)
        if current_run != task.id:
            bump_project(db, project_id)
            return
        ui = self.derive(status, deleting=bool(deleting), termination_reason=termination)
        error = None
        if stop is not None:
            error = f"stopped by {stop['actor']}"
        elif status != "done":
            error = (result.error if result and result.error else None) or task.error
        conn.execute(
            _HOOK_RECORD,
            [status, ui, termination, exit_code, error, finished, project_id, task_id],
        )
        if status == "running":  # a graph member starting (plain runs start at their claim)
            conn.execute(_HOOK_STARTED, [now, task.id])
        bump_project(db, project_id)
        if previous_status is None or ui != shown:
            stopped_by = stop["actor"] if stop else None
            actor = stopped_by or self.actor
            reason = getattr(self._local, "reason", None) or describe_outcome(task, stopped_by)
            # A new run's record already shows "queued" unless it replaces an earlier run.
            before = shown if previous_status is not None or shown != ui else None
            conn.execute(
                _HOOK_TRANSITION,
                [project_id, task_id, task.id, run_no, now, actor, before, ui, reason],
            )
        on_finish = getattr(self._local, "on_finish", None)
        if on_finish is not None and finished is not None:
            on_finish(db, task)
