"""One claimed run inside a worker: where it runs, its handlers, its log, its outcome.

``RunExecution`` is the half of :class:`webapp.worker.Worker` that executes claimed runs on
the executor threads: the server's handlers (output streamed to the run's log file, only a
capped tail kept in the result, the process recorded), the workspace, and a crash net that
never lets one run take the worker down.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from webapp.engine import (
    Task,
    TaskCancelled,
    TaskExecutionError,
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
from webapp.orchestration import artifacts, llm, recovery, upstream, workspace
from webapp.orchestration.context import bind_forever
from webapp.orchestration.logs import LogWriter
from webapp.store import member_keys

log = logging.getLogger("webapp.worker")

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
    ended_by: str | None = None
    """Why the worker ended this run itself (it stopped): the log's last line says so."""
    usage: Any = None
    """A prompt run's recorded usage (``llm.RunUsage``), for its last log line."""

    @property
    def id(self) -> str:
        return self.task.id


class RunExecution:
    """Executes claimed runs (mixed into Worker, which owns the state used here:
    ``settings``, ``store``, ``executor``, ``_running``, ``_lock``, ``_idle``, ``_spawned``,
    ``_handoff``, ``_pool`` and the claim methods)."""

    def _register_handlers(self) -> None:
        options = dict(
            cwd=self._cwd, env=self._env, on_output=self._on_output, on_spawn=self._on_spawn,
            keep_output_bytes=self.settings.output_tail_bytes, kill_grace=DEFAULT_KILL_GRACE,
        )  # fmt: skip
        self.executor.register(TaskType.BASH, make_bash_handler(**options))
        self.executor.register(TaskType.POWERSHELL, make_powershell_handler(**options))
        streaming = make_default_prompt_handler(
            on_token=self._on_token, on_usage=self._on_usage, budget=self._budgets
        )
        answered = self._logged(make_default_prompt_handler())

        def run_prompt(context: TaskContext) -> Any:
            if os.environ.get("WEBAPP_LLM_URL", "").strip():
                return streaming(context)  # tokens reach the log as they arrive
            return answered(context)

        self.executor.register(TaskType.PROMPT, self._with_upstream(run_prompt))
        default_agent = self._logged(make_default_agent_handler())

        def run_agent(context: TaskContext) -> Any:
            command = os.environ.get("WEBAPP_AGENT_COMMAND", "").strip()
            if command:
                return make_cli_agent_handler(command, **options)(context)
            return default_agent(context)

        self.executor.register(TaskType.AGENT, self._with_upstream(run_agent))

    def _with_upstream(self, handler: Any) -> Any:
        """A workflow member's ``{{ upstream.<key>.output }}`` filled in before it runs."""

        def run(context: TaskContext) -> Any:
            if not context.upstream or not upstream.uses_upstream(context.payload):
                return handler(context)
            keys = member_keys.keys_of(self.store.db, context.upstream)
            tasks = {keys[rid]: task for rid, task in context.upstream.items() if rid in keys}
            return handler(_Rendered(context, upstream.render(context.payload, tasks)))

        return run

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

    def _on_token(self, context: TaskContext, text: str) -> None:
        """A streamed token goes to the log at once (partial line and all)."""
        run = self._find(context.id)
        if run is None:
            return
        self._write_log(run, text, "stdout")
        if run.log is not None and not run.log_failed:
            run.log.flush()

    def _on_usage(self, context: TaskContext, usage: Any) -> None:
        run = self._find(context.id)
        if run is None:
            return
        bind_forever(self.settings)  # graph members run on the engine's own pool threads
        try:
            run.usage = llm.record_run_usage(
                run.project_id, run.task_id, run.run_no, context.id, usage
            )
        except Exception:  # never fail a run for its bookkeeping
            log.exception("worker %s: cannot record the usage of %s", self.id, context.id)

    def _budgets(self, context: TaskContext) -> list[Any]:
        run = self._find(context.id)
        if run is None:
            return []
        model = os.environ.get("WEBAPP_LLM_MODEL", "").strip() or None
        bind_forever(self.settings)
        return llm.budgets_for(run.project_id, run.task_id, model)

    def _find(self, run_id: str) -> RunningTask | None:
        """A claimed run of this worker, or a member of a graph it is running."""
        run = self._running.get(run_id)
        return run if isinstance(run, RunningTask) else self._members.get(run_id)

    def _cwd(self, context: TaskContext) -> str:
        return self._find(context.id).cwd

    def _env(self, context: TaskContext) -> dict[str, str]:
        return self._find(context.id).env

    def _on_output(self, context: TaskContext, stream: str, line: str) -> None:
        run = self._find(context.id)
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
    def _prepare(self, row: dict[str, Any], project: dict[str, Any]) -> RunningTask:
        task = Task(
            row["engine_title"], row["payload"], TaskType(row["type"]),
            description=row["description"] or "", timeout=row["timeout"], _id=row["run_id"],
            created_at=datetime.fromisoformat(row["engine_created_at"]),
        )  # fmt: skip
        return self._run_context(row["project_id"], row["task_id"], row["run_no"], task, project)

    def _run_context(
        self, project_id: str, task_id: str, run_no: int, task: Task, project: dict[str, Any]
    ) -> RunningTask:
        """Where and with what a run executes: its workspace, environment and log file."""
        task_dir = workspace.task_dir(self.settings.tasks_root, project_id, task_id)
        env = {
            **(project.get("env") or {}),
            "WEBAPP_PROJECT_ID": project_id,
            "WEBAPP_TASK_ID": task_id,
            "WEBAPP_RUN_NO": str(run_no),
            recovery.RUN_ENV: task.id,
        }
        return RunningTask(
            project_id, task_id, run_no, task,
            cwd=str(task_dir / workspace.WORKSPACE_DIR), env=env,
            grace=float(project.get("shutdown_grace", 10.0)),
            log_path=task_dir / artifacts.LOGS_DIR / artifacts.run_log_name(run_no),
            git_repo=project.get("git_repo"),
        )  # fmt: skip

    def _execute(self, run: Any) -> None:
        """Run one claimed run (or drive one claimed graph) on this pool thread."""
        bind_forever(self.settings)
        self.store.set_actor(self.id)
        self.store.set_save_hooks(self._claim_while_saving, self._drop_handoff)
        self._handoff.runs = []
        self._handoff.current = run.id
        try:
            if isinstance(run, RunningTask):
                self._execute_run(run)
            else:
                self._execute_graph_safely(run)
        except Exception:
            log.exception("worker %s: task %s/%s crashed", self.id, run.project_id, run.task_id)
            self._fail_unfinished(run, "the worker failed while running this task")
        finally:
            self._handoff.current = None
            if isinstance(run, RunningTask):
                self.store.forget_claim(run.task.id)
                if run.log is not None:
                    run.log.close()
            with self._idle:
                self._running.pop(run.id, None)
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
        if self._ending:  # claimed while this worker was stopping: it never starts
            self._lose_unstarted(run)
            return
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
            if run.ended_by is not None:
                self._write_log(run, f"[webapp] {run.ended_by}; the task was lost")
            elif result is not None:
                self._write_log(run, _footer(result, run.usage))

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
        task.set_result(TaskResult(task.id, TaskStatus.FAILED, now, now, 0.0, error=message,
                                    termination_reason="handler"))  # fmt: skip
        task.transition_to(TaskStatus.FAILED, error=message)
        try:
            self.store.tasks.save(task)
        except Exception:
            log.exception("worker %s: could not record the failure of %s", self.id, task.id)


class _Rendered:
    """A handler's context whose payload has its upstream context filled in."""

    def __init__(self, context: TaskContext, payload: str) -> None:
        self._context = context
        self.payload = payload

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def _footer(result: TaskResult, usage: Any = None) -> str:
    """The log's last line; only a process run speaks of an exit code."""
    took = f"after {result.duration:.2f} s"
    spent = "" if usage is None else f" ({_usage_text(usage)})"
    process = result.returncode is not None
    if result.status is TaskStatus.DONE:
        if process:
            return f"[webapp] exited with code {result.returncode} {took}"
        return f"[webapp] completed {took}{spent}"
    if result.termination_reason == "cancelled":
        return f"[webapp] stopped {took}{spent}"
    if result.termination_reason == "timeout":
        return f"[webapp] timed out {took}{spent}"
    if process:
        return f"[webapp] exited with code {result.returncode} {took}"
    return f"[webapp] failed {took}: {result.error}{spent}"


def _usage_text(usage: Any) -> str:
    parts = [f"model {usage.model}"] if usage.model else []
    parts.append(f"{usage.prompt_tokens or 0} prompt + {usage.completion_tokens or 0} "
                 f"completion tokens{' (estimated)' if usage.estimated else ''}")  # fmt: skip
    if usage.first_token_s is not None:
        parts.append(f"first token after {usage.first_token_s:.2f} s")
    if usage.cost is not None:
        parts.append(f"${usage.cost:.6f}")
    return ", ".join(parts)
