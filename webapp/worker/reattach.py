"""Runs left by a dead or stopped worker: reattached, recorded with their real outcome, or lost.

A worker counts as dead only when that is proven (:func:`webapp.orchestration.recovery.
dead_reason`). Each running run it left on this host is then settled by its state file:

- its supervisor wrote an exit status: the run is recorded with that real outcome;
- its supervisor is alive: this worker adopts the run (it stays ``running``, its log keeps
  streaming), waits for the supervisor on a small thread and records the outcome when it
  exits; stop requests reach it as SIGTERM to the supervisor;
- neither: the run is lost and whatever is left of it is killed.

Graph members are never adopted: their graph goes back to the queue, so a member still
running is stopped and recorded lost (run 1); the resumed graph runs it again as run 2.
Outcomes that cannot be written (a locked or read-only database) are kept and written by a
later heartbeat.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from webapp.engine import TaskResult, TaskStatus
from webapp.orchestration import recovery, workspace
from webapp.orchestration.logs import LogWriter
from webapp.store import graph_records, records, workers
from webapp.store.db import immediate
from webapp.worker.backends import local
from webapp.worker.runs import log


@dataclass
class AdoptedRun:
    """A run of another (dead or stopped) worker whose supervisor this worker waits for."""

    project_id: str
    task_id: str
    run_no: int
    run_id: str
    state: dict[str, Any]
    state_path: Any
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def id(self) -> str:
        return self.run_id


def _local_time(epoch: float | None) -> datetime:
    return datetime.fromtimestamp(epoch) if epoch else datetime.now()


def result_of(run_id: str, state: dict[str, Any]) -> tuple[TaskStatus, TaskResult]:
    """The engine result a supervisor's final state stands for."""
    times = dict(
        started_at=_local_time(state.get("started_at")),
        finished_at=_local_time(state.get("finished_at")),
        duration=float(state.get("duration") or 0.0),
    )
    code, reason = state.get("returncode"), state.get("reason")
    out, err = state.get("stdout") or "", state.get("stderr") or ""
    if reason == "exited" and code == 0:
        return TaskStatus.DONE, TaskResult(run_id, TaskStatus.DONE, **times, output=out,
                                           error=err or None, returncode=0)  # fmt: skip
    if reason == "stopped":
        return TaskStatus.CANCELLED, TaskResult(
            run_id, TaskStatus.CANCELLED, **times, output=out, error="cancelled",
            returncode=code, termination_reason="cancelled",
        )  # fmt: skip
    if reason == "timeout":
        error, why = "the task timed out", "timeout"
    elif reason == "error":
        error, why = state.get("error") or "the command could not start", "handler"
    else:
        error, why = err or f"exited with code {code}", "exit_code"
    return TaskStatus.FAILED, TaskResult(run_id, TaskStatus.FAILED, **times, output=out,
                                         error=error, returncode=code,
                                         termination_reason=why)  # fmt: skip


def footer(state: dict[str, Any]) -> str:
    took = f"after {float(state.get('duration') or 0):.2f} s"
    reason = state.get("reason")
    if reason == "stopped":
        return f"[webapp] stopped {took}"
    if reason == "timeout":
        return f"[webapp] timed out {took}"
    if reason == "error":
        return f"[webapp] failed {took}: {state.get('error')}"
    return f"[webapp] exited with code {state.get('returncode')} {took}"


class Reattach:
    """Settling runs of dead or stopped workers (mixed into Worker, which owns ``settings``,
    ``store``, ``id``, ``_running``, ``_lock``, ``_idle``)."""

    def _init_reattach(self) -> None:
        self._unwritten: dict[str, Callable[[], object]] = {}
        self._writable_since: float | None = None

    # -- finding dead workers -------------------------------------------------------------------
    def reap(self, now: float | None = None) -> list[dict[str, Any]]:
        """Settle the runs of every proven-dead worker and every orphaned run; returns the
        runs marked lost."""
        now = time.time() if now is None else now
        db = self.store.db
        settings = self.settings
        lost: list[dict[str, Any]] = []
        for row in workers.live_worker_rows(db):
            if row["id"] == self.id:
                continue
            reason = recovery.dead_reason(
                row, now, settings.worker_lost_after, writable_since=self._writable_since
            )
            if reason is None:
                continue
            with self.store.write_lock, immediate(db):
                if not workers.take_reap(db, row["id"], self.id, now):
                    continue
                runs = workers.running_runs_of(db, row["id"])
                lost += self._settle(runs, reason, row["hostname"] == recovery.HOSTNAME)
                recovery.requeue_graphs(db, row["id"], f"requeued: {reason}", self.id)
            log.warning("%s: settled %d running task(s)", reason, len(runs))
        with self.store.write_lock, immediate(db):
            for _, worker_id in graph_records.orphaned_graphs(db):
                note = f"requeued: worker {worker_id} left"
                recovery.requeue_graphs(db, worker_id, note, self.id)
            with self._lock:
                mine = set(self._running)
            for run in workers.orphaned_runs(db):
                if run["run_id"] in mine:
                    continue
                reason = f"worker {run['worker_id']} no longer runs this task"
                local_run = run["hostname"] in (None, recovery.HOSTNAME)
                lost += self._settle([run], reason, local_run)
        self._write_unwritten()
        return lost

    def _settle(self, runs: list[dict], reason: str, on_this_host: bool) -> list[dict]:
        """Inside the caller's transaction: adopt, record or lose each run."""
        db = self.store.db
        lost = []
        for run in runs:
            path = local.state_path(
                workspace.task_dir(self.settings.tasks_root, run["project_id"], run["task_id"]),
                run["run_no"],
            )
            found, state = local.inspect(path) if on_this_host else ("none", None)
            member = records.record_for_run(db, run["run_id"])
            in_graph = bool(member and member.get("graph_id"))
            if found == "alive" and in_graph:  # its graph reruns it: end this run now
                local.stop_supervisor(state)
                found = "none"
            if found == "exited":
                self._record(AdoptedRun(run["project_id"], run["task_id"], run["run_no"],
                                        run["run_id"], state, path), state)  # fmt: skip
                continue
            if found == "alive":
                self._adopt(AdoptedRun(run["project_id"], run["task_id"], run["run_no"],
                                       run["run_id"], state, path))  # fmt: skip
                continue
            if on_this_host:
                recovery.kill_process_group(run.get("pgid"), run.get("proc_start"))
                local.kill_run_processes([run["run_id"]])
            if recovery.mark_run_lost(self.settings, run, f"{reason}; the task was lost", self.id):
                lost.append(run)
        return lost

    # -- adopted runs ---------------------------------------------------------------------------
    def _adopt(self, run: AdoptedRun) -> None:
        """Inside the caller's transaction: make the run this worker's and wait for it."""
        self.store.db.execute("UPDATE runs SET worker_id = ? WHERE run_id = ?", [self.id, run.id])
        self.store.attach(run.id)
        with self._lock:
            self._running[run.id] = run
        log.warning("worker %s reattached to %s/%s (run %s)", self.id, run.project_id,
                    run.task_id, run.run_no)  # fmt: skip
        threading.Thread(target=self._watch, args=(run,), name=f"reattached-{run.id}",
                         daemon=True).start()  # fmt: skip

    def _watch(self, run: AdoptedRun) -> None:
        from webapp.orchestration.context import bind_forever

        bind_forever(self.settings)
        try:
            if not local.wait_supervisor(run.state, run.release):
                return  # this worker stops: the run stays with its supervisor
            found, state = local.inspect(run.state_path)
            if found == "exited":
                self._record_now(run, state)
            else:
                self._record_lost(run, "its supervisor ended without an exit status")
        except Exception:
            log.exception("worker %s: waiting for reattached run %s failed", self.id, run.id)
        finally:
            with self._idle:
                if self._running.get(run.id) is run:
                    self._running.pop(run.id, None)
                self._idle.notify_all()

    def _record_now(self, run: AdoptedRun, state: dict[str, Any]) -> None:
        try:
            with self.store.write_lock, immediate(self.store.db):
                self._record(run, state)
        except Exception:
            log.exception("worker %s: recording %s failed; kept for later", self.id, run.id)
            with self._lock:
                self._unwritten[run.id] = lambda: self._record(run, state)

    def _record_lost(self, run: AdoptedRun, why: str) -> None:
        with self.store.write_lock, immediate(self.store.db):
            recovery.mark_run_lost(self.settings, {"run_id": run.id}, f"{why}; the task was lost",
                                   self.id)  # fmt: skip

    def _record(self, run: AdoptedRun, state: dict[str, Any]) -> bool:
        """Inside a transaction: save the run's real outcome from its supervisor's state."""
        store = self.store
        try:
            task = store.tasks[run.id]
        except KeyError:
            return False
        if task.status is not TaskStatus.RUNNING:
            return False
        store.attach(run.id)
        status, result = result_of(run.id, state)
        task.set_result(result)
        task.transition_to(status, error=None if status is TaskStatus.DONE else result.error)
        with store.acting(self.id):
            store.tasks.save(task)
        self._append_footer(run, state)
        return True

    def _append_footer(self, run: AdoptedRun, state: dict[str, Any]) -> None:
        from webapp.orchestration import artifacts

        task_dir = workspace.task_dir(self.settings.tasks_root, run.project_id, run.task_id)
        path = task_dir / artifacts.LOGS_DIR / artifacts.run_log_name(run.run_no)
        if state.get("log_truncated"):
            return  # the log reached its cap: nothing more goes in
        if not path.exists() and state.get("reason") == "exited" and state.get("returncode") == 0:
            return  # a run without output has no log
        try:
            with LogWriter(path, cap_bytes=self.settings.log_cap_bytes) as writer:
                writer.write_system(footer(state))
        except (OSError, ValueError):
            log.exception("worker %s: cannot write the log %s", self.id, path)

    def _write_unwritten(self) -> None:
        """Write the outcomes a database fault kept back (oldest first)."""
        with self._lock:
            pending = list(self._unwritten.items())
        for run_id, write in pending:
            try:
                with self.store.write_lock, immediate(self.store.db):
                    write()
            except Exception:
                return  # still not writable: the next heartbeat tries again
            with self._lock:
                self._unwritten.pop(run_id, None)

    def _keep_unwritten(self, run: Any) -> None:
        """A run ended here but the database refused its end (locked, read-only): keep it
        and write it when the database takes writes again (its row stays ``running``)."""
        task = run.task
        if not task.is_terminal:
            return
        errors = [e for tid, e in self.executor.persistence_errors[-64:] if tid == task.id]
        if errors and isinstance(errors[-1], sqlite3.OperationalError | sqlite3.DatabaseError):
            log.warning("worker %s: the end of %s waits for a writable database", self.id, task.id)
            with self._lock:
                self._unwritten[task.id] = lambda: self.store.tasks.save(task)

    def _release_adopted(self) -> None:
        """This worker stops: its adopted runs stay with their supervisors (and the next
        worker reattaches to them)."""
        with self._lock:
            adopted = [r for r in self._running.values() if isinstance(r, AdoptedRun)]
        for run in adopted:
            run.release.set()
