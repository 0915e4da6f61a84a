"""Graph runs inside a worker: a claimed workflow runs through the engine's ``TaskGraph``.

The graph occupies one of the worker's threads as its driver; its members run on the
graph's own pool (at most the worker's thread count, or the project's ``max_concurrent``)
with the same handlers, logs and stop requests as plain runs. A member left RUNNING by a
dead worker (already marked lost by the reaper) is retried like any failed member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webapp.engine import Task, TaskResult, TaskStatus
from webapp.orchestration.status import LOST_REASON
from webapp.store import graph_records, records
from webapp.store.db import immediate
from webapp.worker.runs import RunningTask, log


@dataclass
class GraphDriver:
    """A claimed graph: it holds one worker thread while its members run."""

    graph_id: str
    project_id: str

    @property
    def id(self) -> str:
        return self.graph_id


class GraphExecution:
    """Claims and drives graphs (mixed into Worker, like RunExecution)."""

    def _claim_graph(self, db: Any) -> GraphDriver | None:
        """Take the oldest queued graph (the caller holds ``store.write_lock``)."""
        if not graph_records.has_queued_graph(db):
            return None
        with immediate(db):
            row = graph_records.claim_graph(db, self.id)
        return None if row is None else GraphDriver(row["graph_id"], row["project_id"])

    def _execute_graph(self, driver: GraphDriver) -> None:
        store = self.store
        db = store.db
        graph = store.graphs[driver.graph_id]
        project = records.get_project(db, driver.project_id) or {}
        members: dict[str, RunningTask] = {}
        for task in graph:
            row = records.record_for_run(db, task.id)
            if task.status is TaskStatus.RUNNING:
                self._fail_left_running(task)
            members[task.id] = self._run_context(
                row["project_id"], row["task_id"], row["run_no"], task, project
            )
        with self._lock:
            self._members.update(members)
        try:
            cap = project.get("max_concurrent") or self.threads
            graph.run(self.executor, max_workers=max(1, min(self.threads, cap)))
        finally:
            with self._lock:
                for run_id in members:
                    self._members.pop(run_id, None)
            for run in members.values():
                if run.log is not None:
                    run.log.close()
        self._finish_graph(driver, "completed" if graph.ok else "failed")

    def _fail_left_running(self, task: Task) -> None:
        """A member still RUNNING in the store belonged to a run that died with its worker."""
        now = datetime.now()
        message = "the worker running this task was lost"
        task.set_result(TaskResult(task.id, TaskStatus.FAILED, now, now, 0.0, error=message,
                                    termination_reason=LOST_REASON))  # fmt: skip
        task.transition_to(TaskStatus.FAILED, error=message)
        self.store.tasks.save(task)

    def _finish_graph(self, driver: GraphDriver, status: str) -> None:
        db = self.store.db
        with self.store.write_lock, immediate(db):
            row = graph_records.get_graph(db, driver.graph_id)
            if row is None or row["worker_id"] != self.id or row["status"] != "running":
                return  # requeued by a reaper meanwhile, or deleted
            if row["cancel_requested_by"]:
                status = "cancelled"
            graph_records.update_graph(
                db, driver.graph_id, {"status": status, "finished_at": records.now_text()}
            )

    def _execute_graph_safely(self, driver: GraphDriver) -> None:
        if self._ending:  # claimed while this worker was stopping: back to the queue
            self._lose_unstarted(driver)
            return
        try:
            self._execute_graph(driver)
        except Exception:
            log.exception("worker %s: graph %s crashed", self.id, driver.graph_id)
            self._finish_graph(driver, "failed")
