"""Shell runs under run supervisors: the worker's side of one supervised run.

``SupervisedRuns`` is the part of :class:`webapp.worker.Worker` that hands a claimed shell
run to :func:`webapp.worker.backends.local.run_supervised` and learns from its supervisor
(the processes to record, a log it could not write).
"""

from __future__ import annotations

from typing import Any

from webapp.engine.context import TaskContext
from webapp.engine.handlers.subprocess import resolve_env
from webapp.orchestration import recovery
from webapp.worker.backends import local
from webapp.worker.runs import log


class SupervisedRuns:
    """Mixed into Worker (which owns ``settings``, ``backend``, ``_find``, ``_lock``,
    ``_spawned``)."""

    def _supervised(self, build_argv: Any) -> Any:
        """A handler running each command under a run supervisor, which writes its log."""

        def run_command(context: TaskContext) -> Any:
            run = self._find(context.id)
            argv = build_argv(context)
            if run.log is not None:  # the supervisor appends to the log from here on
                run.log.close()
                run.log = None
            request = {
                "cwd": run.cwd, "env": resolve_env(run.env, context),
                "log_path": str(run.log_path), "state_path": str(run.state_path),
                "cap_bytes": self.settings.log_cap_bytes,
                "keep_bytes": self.settings.output_tail_bytes, "grace": run.grace,
                "keep_daemons": run.keep_daemons,
            }  # fmt: skip
            return local.run_supervised(
                self.backend, argv, context, request,
                on_spawn=self._on_supervisor_spawn, on_exit=self._on_supervisor_exit,
                detached=lambda: run.detach,
            )  # fmt: skip

        return run_command

    def _on_supervisor_spawn(self, context: TaskContext, state: dict[str, Any]) -> None:
        record = (state["pid"], state["pgid"], state.get("proc_start") and
                  f"{recovery.boot_id()}:{state['proc_start']}", context.id)  # fmt: skip
        with self._lock:
            self._spawned.append(record)

    def _on_supervisor_exit(self, context: TaskContext, state: dict[str, Any]) -> None:
        if state.get("log_error"):  # reported once; the task's outcome stands
            run = self._find(context.id)
            log.error("worker %s: cannot write the log %s: %s", self.id,
                      run.log_path if run else "?", state["log_error"])  # fmt: skip
            if run is not None:
                run.log_failed = True
