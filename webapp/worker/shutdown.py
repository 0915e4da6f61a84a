"""A worker's stop: nothing new is claimed, shell runs are let go of, nothing else is left.

When a worker stops (SIGTERM or SIGINT of ``webapp worker``, a gunicorn worker exiting, the
process exiting), its running shell tasks go on under their run supervisors: the worker
lets go of them without a word to the database (they stay ``running``), and the next
worker to start (or any live one) reattaches to them (:mod:`webapp.worker.reattach`), so
restarting ``webapp serve`` loses no task. Runs that have no supervisor (prompt and agent
tasks, or a worker built with ``supervised=False``) did not finish and nothing will run
them again by itself: in one transaction each is marked lost with the reason
:data:`STOPPED_REASON`, then its processes get SIGTERM and SIGKILL after a short grace.
Runs claimed meanwhile never start. Graphs end "cancelled": their pending members are
cancelled, their running members lost.

:func:`stop_at_exit` stops every started worker of the process when the interpreter exits,
*before* it joins the threads of thread pools (a plain ``atexit`` handler runs after that
join, so it would first wait for the tasks, e.g. a ``sleep 300``, to end by themselves).
The stop runs on the main thread during shutdown, never inside a signal handler.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any

from webapp.engine import TaskType
from webapp.orchestration import recovery
from webapp.store import graph_records, records, workers
from webapp.store.db import immediate
from webapp.worker.backends import local
from webapp.worker.graphs import GraphDriver
from webapp.worker.runs import RunningTask, log

#: Why a run that was running when its worker stopped is lost (shown to users).
STOPPED_REASON = "the server stopped while it ran"
#: Why a run claimed just before its worker stopped is lost (its process never started).
UNSTARTED_REASON = "the server stopped before it started"
#: The longest a task gets between SIGTERM and SIGKILL when its worker stops (a project's
#: shorter ``shutdown_grace`` wins).
SHUTDOWN_GRACE = 3.0
#: How long the exit hook waits for a worker's threads to see their tasks end.
EXIT_TIMEOUT = SHUTDOWN_GRACE + 5.0


class Shutdown:
    """Ending a worker's runs when it stops (mixed into Worker, which owns the state used
    here: ``settings``, ``store``, ``executor``, ``_running``, ``_members``, ``_lock``)."""

    _ending = False

    def _end_running(self, grace: float) -> list[str]:
        """Let go of supervised runs; mark the others lost and signal their processes;
        returns the IDs of the runs ended here."""
        with self._lock:
            self._ending = True  # a run claimed from now on never starts (see _lose_unstarted)
            plain = [r for r in self._running.values() if isinstance(r, RunningTask)]
            detached = [r for r in plain if self._outlives_worker(r)]
            plain = [r for r in plain if r not in detached]
            members = list(self._members.values())
            graphs = [r.graph_id for r in self._running.values() if isinstance(r, GraphDriver)]
        for run in detached:
            self.store.detach(run.id)  # its in-memory end (a RunDetached) is never saved
            run.detach = True
        if detached:
            log.warning(
                "worker %s stopping: %d running task(s) go on under their supervisors (%s)",
                self.id, len(detached), ", ".join(f"{r.project_id}/{r.task_id}" for r in detached),
            )  # fmt: skip
        runs = plain + members
        if not runs and not graphs:
            return []
        actor = self.id
        db = self.store.db
        lost, cancelled = [], []
        with self.store.lock, self.store.write_lock, immediate(db):
            for graph_id in graphs:
                graph_records.update_graph(
                    db, graph_id, {"cancel_requested_by": f"{actor} (the server stopped)"}
                )
            for run in runs:
                if recovery.mark_run_lost(self.settings, {"run_id": run.id}, STOPPED_REASON, actor):
                    lost.append(run)
                elif run.id in self._members and not run.task.is_terminal:  # yet to start
                    workers.add_stop_request(db, {
                        "run_id": run.id, "project_id": run.project_id, "task_id": run.task_id,
                        "worker_id": self.id, "actor": f"{actor} (the server stopped)",
                        "requested_at": records.now_text(), "grace": 0.0,
                    })  # fmt: skip
                    cancelled.append(run)
        for run in lost:
            run.ended_by = STOPPED_REASON
        if lost:
            log.warning(
                "worker %s stopping: %d running task(s) marked lost (%s)",
                self.id, len(lost), ", ".join(f"{r.project_id}/{r.task_id}" for r in lost),
            )  # fmt: skip
        for run in lost + cancelled:
            if not run.task.is_terminal:
                self.executor.cancel(run.task, grace=min(grace, run.grace))
        return [run.id for run in runs]

    def _outlives_worker(self, run: RunningTask) -> bool:
        return self.supervised and run.task.type in (TaskType.BASH, TaskType.POWERSHELL)

    def _lose_unstarted(self, run: RunningTask | GraphDriver) -> None:
        """A run claimed while this worker was stopping: lost before it starts (a graph goes
        back to the queue: none of its members started here)."""
        db = self.store.db
        with self.store.lock, self.store.write_lock, immediate(db):
            if isinstance(run, GraphDriver):
                graph_records.update_graph(db, run.graph_id, {
                    "status": "queued", "worker_id": None, "queued_at": records.now_text(),
                    "note": f"requeued: {UNSTARTED_REASON}",
                })  # fmt: skip
                return
            if recovery.mark_run_lost(self.settings, {"run_id": run.id}, UNSTARTED_REASON, self.id):
                run.ended_by = UNSTARTED_REASON

    @staticmethod
    def _kill_leftovers(run_ids: list[str]) -> None:
        """SIGKILL any process still carrying one of these run IDs (one that left its process
        group, or whose group outlived the wait)."""
        if run_ids and (killed := local.kill_run_processes(run_ids)):
            log.warning("killed %d process(es) left by stopped runs", killed)


# -- the exit hook ----------------------------------------------------------------------------
_started: weakref.WeakSet[Any] = weakref.WeakSet()
_hook_lock = threading.Lock()
_hooked = False


def stop_at_exit(worker: Any) -> None:
    """Stop ``worker`` when the process exits, unless it was stopped before."""
    global _hooked
    with _hook_lock:
        _started.add(worker)
        if not _hooked:
            # Runs before the interpreter joins thread-pool threads (private, but the hook
            # concurrent.futures itself uses); atexit where it does not exist.
            register = getattr(threading, "_register_atexit", atexit.register)
            register(_stop_started_workers)
            _hooked = True


def forget_at_exit(worker: Any) -> None:
    with _hook_lock:
        _started.discard(worker)


def _stop_started_workers() -> None:
    with _hook_lock:
        started = list(_started)
    for worker in started:
        try:
            worker.stop(EXIT_TIMEOUT)
        except Exception:
            log.exception("worker %s: stopping at exit failed", worker.id)
