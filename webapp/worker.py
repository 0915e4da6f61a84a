"""The worker: claims queued tasks from SQLite and runs them, crash-safe.

One claimer thread loops ``while not stopped: run_once(); wait(poll)``; ``run_once``
heartbeats, reaps dead workers, handles stop requests and claims as many queued tasks as
it has free executor threads (``WORKER_THREADS``) in one ``BEGIN IMMEDIATE`` transaction.
Each task runs in its workspace with the project's environment, its output streamed to the
run's log file (capped) while only a tail is kept in the result; its process group, PID
and PID start time are recorded for stop requests and recovery. Any number of processes
may run workers against one database (``webapp worker`` or the web server's own).

Tests step the loop with ``run_once(now=...)`` instead of sleeping.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from webapp.engine import (
    Task,
    TaskCancelled,
    TaskExecutionError,
    TaskExecutor,
    TaskResult,
    TaskStatus,
    TaskTimeoutError,
    TaskType,
)
from webapp.engine.context import TaskContext
from webapp.engine.handlers import (
    make_bash_handler,
    make_cli_agent_handler,
    make_default_agent_handler,
    make_default_prompt_handler,
    make_powershell_handler,
)
from webapp.orchestration import artifacts, lifecycle, recovery, workspace
from webapp.orchestration.archive import apply_retention
from webapp.orchestration.context import Settings, bind_forever, settings_of
from webapp.orchestration.logs import LogWriter
from webapp.orchestration.status import derive_status
from webapp.store import records, workers
from webapp.store.db import immediate

log = logging.getLogger(__name__)

EXTENSION_KEY = "webapp.worker"
DEFAULT_KILL_GRACE = 5.0


@dataclass
class RunningTask:
    """A claimed run in this worker: its engine task, log and where it runs."""

    project_id: str
    task_id: str
    run_no: int
    task: Task
    cwd: str
    env: dict[str, str]
    grace: float
    log_path: Path
    git_repo: str | None = None
    log: LogWriter | None = None
    log_failed: bool = False


class Worker:
    """Claims and runs queued tasks; ``start()`` runs it on threads, ``run_once()`` steps it."""

    def __init__(self, settings: Settings, *, threads: int | None = None, name: str = "worker"):
        self.settings = settings
        self.store = settings.store
        self.threads = threads or settings.worker_threads
        me = recovery.this_process()
        self.id = f"{name}:{me['hostname']}:{me['pid']}:{secrets.token_hex(3)}"
        self.executor = TaskExecutor.empty(self.store)
        self._register_handlers()
        self._running: dict[str, RunningTask] = {}
        self._spawned: list[tuple[int, int, str | None, str]] = []
        self._lock = threading.Lock()
        self._handoff = threading.local()  # runs claimed while saving this thread's run
        self._idle = threading.Condition(self._lock)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="webapp-task")
        self._stop_flag = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._registered = False
        self._next_beat = 0.0
        self._next_retention = 0.0

    # -- handlers ------------------------------------------------------------------------------
    def _register_handlers(self) -> None:
        options = dict(
            cwd=self._cwd, env=self._env, on_output=self._on_output, on_spawn=self._on_spawn,
            keep_output_bytes=self.settings.output_tail_bytes, kill_grace=DEFAULT_KILL_GRACE,
        )  # fmt: skip
        self.executor.register(TaskType.BASH, make_bash_handler(**options))
        self.executor.register(TaskType.POWERSHELL, make_powershell_handler(**options))
        self.executor.register(TaskType.PROMPT, self._logged(make_default_prompt_handler()))
        default_agent = self._logged(make_default_agent_handler())

        def run_agent(context: TaskContext) -> Any:
            command = os.environ.get("WEBAPP_AGENT_COMMAND", "").strip()
            if command:
                return make_cli_agent_handler(command, **options)(context)
            return default_agent(context)

        self.executor.register(TaskType.AGENT, run_agent)

    def _logged(self, handler: Any) -> Any:
        """Wrap a non-process handler so its answer also lands in the run's log."""

        def run(context: TaskContext) -> Any:
            answer = handler(context)
            if isinstance(answer, str):
                self._on_output(
                    context, "stdout", answer if answer.endswith("\n") else answer + "\n"
                )
            return answer

        return run

    def _cwd(self, context: TaskContext) -> str:
        return self._running[context.id].cwd

    def _env(self, context: TaskContext) -> dict[str, str]:
        return self._running[context.id].env

    def _on_output(self, context: TaskContext, stream: str, line: str) -> None:
        run = self._running.get(context.id)
        if run is not None:
            self._write_log(run, line, stream)

    def _write_log(self, run: RunningTask, text: str, stream: str = "system") -> None:
        """Append to the run's log, creating it on first use (a task without output has
        none). A log that cannot be written is reported once and never fails the task."""
        if run.log_failed:
            return
        try:
            if run.log is None:
                run.log = LogWriter(run.log_path, cap_bytes=self.settings.log_cap_bytes)
            if stream == "system":
                run.log.write_system(text)
            else:
                run.log.write(text, stream)
        except OSError:
            run.log_failed = True
            log.exception("worker %s: cannot write the log %s", self.id, run.log_path)

    def _on_spawn(self, context: TaskContext, pid: int) -> None:
        """Queue the process record; the next claim transaction writes it (until then,
        recovery finds the process by the run ID in its environment)."""
        record = (pid, pid, recovery.process_start(pid), context.id)
        with self._lock:
            self._spawned.append(record)

    # -- lifecycle of the worker ----------------------------------------------------------------
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
        self._next_beat = now + self.settings.heartbeat_interval

    def recover(self, now: float | None = None) -> list[dict[str, Any]]:
        """Mark dead workers' tasks lost, finish interrupted deletes, apply retention."""
        bind_forever(self.settings)
        lost = recovery.reap_dead_workers(self.settings, self.id, now=now)
        lifecycle.resume_interrupted_deletes(actor=self.id)
        self._apply_retention()
        return lost

    def start(self) -> Worker:
        """Register, recover, then run the claim loop on a daemon thread."""
        if self._thread is not None:
            return self
        if not self._registered:
            self.register()
        self.recover()
        self._thread = threading.Thread(target=self._loop, name=f"{self.id}", daemon=True)
        self._thread.start()
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
        """Stop claiming, cancel (or drain) running tasks, join; True if everything ended."""
        self._stop_flag.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if cancel:
            self._cancel_all(min(timeout, DEFAULT_KILL_GRACE))
        with self._idle:
            while self._running and time.monotonic() < deadline:
                self._idle.wait(max(0.0, deadline - time.monotonic()))
            ended = not self._running
        self._pool.shutdown(wait=ended)
        if ended and self._registered:
            workers.mark_worker_stopped(self.store.db, self.id, time.time())
        return ended

    def _cancel_all(self, grace: float) -> None:
        with self._lock:
            running = list(self._running.items())
        if not running:
            return
        db = self.store.db
        with self.store.lock, self.store.write_lock, immediate(db):
            for run_id, run in running:
                workers.add_stop_request(
                    db,
                    {
                        "run_id": run_id, "project_id": run.project_id, "task_id": run.task_id,
                        "worker_id": self.id, "actor": f"{self.id} (shutting down)",
                        "requested_at": records.now_text(), "grace": min(grace, run.grace),
                    },
                )  # fmt: skip
        for _, run in running:
            self.executor.cancel(run.task, grace=min(grace, run.grace))

    def is_idle(self) -> bool:
        """Nothing running here and nothing queued anywhere."""
        with self._lock:
            if self._running:
                return False
        return not workers.has_queued(self.store.db)

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
        with self.store.write_lock:
            alive = workers.heartbeat(self.store.db, self.id, now)
        if not alive:
            log.error("worker %s was declared dead by another worker; re-registering", self.id)
            self.id = f"{self.id.rsplit(':', 1)[0]}:{secrets.token_hex(3)}"
            self.store.set_actor(self.id)
            self.register()
        recovery.reap_dead_workers(self.settings, self.id, now=now)
        lifecycle.resume_interrupted_deletes(actor=self.id, skip_running=True)
        if now >= self._next_retention:
            self._next_retention = now + self.settings.retention_interval
            self._apply_retention()

    def _apply_retention(self) -> None:
        settings = self.settings
        if not (settings.archive_max_age_days or settings.archive_keep_last):
            return
        for project in records.list_projects(self.store.db):
            try:
                apply_retention(
                    settings.archive_root, project["id"],
                    max_age_days=settings.archive_max_age_days or None,
                    keep_last=settings.archive_keep_last or None,
                )  # fmt: skip
            except Exception:
                log.exception("archive retention failed for project %s", project["id"])

    def _handle_stop_requests(self) -> None:
        db = self.store.db
        for request in workers.pending_stop_requests(db, self.id):
            run = self._running.get(request["run_id"])
            if run is not None:
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
            free = self.threads - len(self._running) + int(finishing)
            spawned, self._spawned = self._spawned, []
        db = self.store.db
        if free <= 0 or not workers.has_queued(db):
            free = 0
            if not spawned:
                return []
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
        return runs

    def _claim_while_saving(self, db: Any, task: Task) -> None:
        """Store hook on this worker's threads: a run's end is being saved; claim the next
        runs in the same transaction (one commit instead of two per task)."""
        if self._stop_flag.is_set() or task.id not in self._running:
            return
        self._handoff.runs = self._claim(finishing=True)

    def _drop_handoff(self) -> None:
        """The save (and the claim inside it) rolled back: forget what it claimed."""
        runs = getattr(self._handoff, "runs", None) or []
        self._handoff.runs = []
        with self._lock:
            for run in runs:
                self._running.pop(run.task.id, None)
                self.store.forget_claim(run.task.id)

    def _prepare(self, row: dict[str, Any], project: dict[str, Any]) -> RunningTask:
        task = Task(
            row["engine_title"], row["payload"], TaskType(row["type"]),
            description=row["description"] or "", timeout=row["timeout"], _id=row["run_id"],
            created_at=datetime.fromisoformat(row["engine_created_at"]),
        )  # fmt: skip
        task_dir = workspace.task_dir(self.settings.tasks_root, row["project_id"], row["task_id"])
        env = {
            **(project.get("env") or {}),
            "WEBAPP_PROJECT_ID": row["project_id"],
            "WEBAPP_TASK_ID": row["task_id"],
            "WEBAPP_RUN_NO": str(row["run_no"]),
            recovery.RUN_ENV: row["run_id"],
        }
        return RunningTask(
            row["project_id"], row["task_id"], row["run_no"], task,
            cwd=str(task_dir / workspace.WORKSPACE_DIR), env=env,
            grace=float(project.get("shutdown_grace", 10.0)),
            log_path=task_dir / artifacts.LOGS_DIR / artifacts.run_log_name(row["run_no"]),
            git_repo=project.get("git_repo"),
        )  # fmt: skip

    def _execute(self, run: RunningTask) -> None:
        bind_forever(self.settings)
        self.store.set_actor(self.id)
        self.store.set_save_hooks(self._claim_while_saving, self._drop_handoff)
        self._handoff.runs = []
        try:
            self._execute_run(run)
        except Exception:
            log.exception("worker %s: task %s/%s crashed", self.id, run.project_id, run.task_id)
            self._fail_unfinished(run, "the worker failed while running this task")
        finally:
            self.store.forget_claim(run.task.id)
            if run.log is not None:
                run.log.close()
            with self._idle:
                self._running.pop(run.task.id, None)
                self._idle.notify_all()
            handed, self._handoff.runs = self._handoff.runs, []
            for claimed in handed:  # claimed in the transaction that saved this run's end
                self._pool.submit(self._execute, claimed)
            if not handed:
                self._claim_next()

    def _claim_next(self) -> None:
        """A thread that just finished claims the next runs itself (no hand-off delay)."""
        if self._stop_flag.is_set() or not self._registered:
            return
        try:
            self._claim_and_start()
        except Exception:
            log.exception("worker %s: claiming after a run failed", self.id)
            self._wake.set()

    def _execute_run(self, run: RunningTask) -> None:
        try:
            self._prepare_workspace(run)
        except Exception as exc:
            self._write_log(run, f"[webapp] could not prepare the workspace: {exc}")
            self._fail_unfinished(run, f"could not prepare the workspace: {exc}")
            return
        try:
            result = self.executor.execute(run.task)
        except (TaskCancelled, TaskExecutionError, TaskTimeoutError):
            result = run.task.result
        except Exception:
            if not run.task.is_terminal:
                raise  # not an outcome the executor recorded: a crash
            result = run.task.result  # a handler error, or a stop before the start
        if run.log is not None or (result is not None and result.status is not TaskStatus.DONE):
            if run.log is not None:
                run.log.flush()
            if result is not None:
                self._write_log(run, _footer(result))

    def _prepare_workspace(self, run: RunningTask) -> None:
        """The task's directory exists since task_new; git projects follow the marker
        protocol (clone or reset a new task, fetch only for a retry)."""
        if not run.git_repo and os.path.isdir(run.cwd):
            return
        root = self.settings.tasks_root
        workspace.create_workspace(root, run.project_id, run.task_id, new_task=False)
        how = workspace.prepare_workspace(run.cwd, run.git_repo)
        if how not in ("none", "fetched"):
            self._write_log(run, f"[webapp] workspace {how} from {run.git_repo}")

    def _fail_unfinished(self, run: RunningTask, message: str) -> None:
        """Fail a run that never reached the executor (or that it left unfinished)."""
        task = run.task
        if task.status not in (TaskStatus.PENDING, TaskStatus.RUNNING):
            return
        now = datetime.now()
        task._set_result(TaskResult(task.id, TaskStatus.FAILED, now, now, 0.0, error=message,
                                    termination_reason="handler"))  # fmt: skip
        task.transition_to(TaskStatus.FAILED, error=message)
        try:
            self.store.tasks.save(task)
        except Exception:
            log.exception("worker %s: could not record the failure of %s", self.id, task.id)


def _footer(result: TaskResult) -> str:
    took = f"after {result.duration:.2f} s"
    if result.status is TaskStatus.DONE:
        return f"[webapp] exited with code {result.returncode or 0} {took}"
    if result.termination_reason == "cancelled":
        return f"[webapp] stopped {took}"
    if result.termination_reason == "timeout":
        return f"[webapp] timed out {took}"
    if result.returncode is not None:
        return f"[webapp] exited with code {result.returncode} {took}"
    return f"[webapp] failed {took}: {result.error}"


def init_app(app: Any) -> Worker | None:
    """Start a worker in this server process when ``WORKER_ENABLED`` (after orchestration)."""
    if not app.config.get("WORKER_ENABLED"):
        return None
    worker = Worker(settings_of(app)).start()
    app.extensions[EXTENSION_KEY] = worker
    atexit.register(worker.stop, 5.0)
    return worker
