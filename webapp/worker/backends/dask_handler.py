"""The worker's side of the Dask backend: shell and PowerShell runs go to the cluster.

The worker claims and drives runs as always; only the handler differs. It sends the run to
the :class:`~webapp.worker.backends.dask.DaskBackend`, writes the output chunks to the same
log file a local run writes, hands stop requests on (the executor's canceller), records
where the run went (``runs.backend``/``host``/``dask_worker``, never ``pid``/``pgid``), and
marks the run lost when its Dask worker or the scheduler went away.
"""

from __future__ import annotations

import logging
from typing import Any

from webapp.engine.context import TaskContext
from webapp.orchestration import recovery
from webapp.store.db import immediate
from webapp.worker.backends.dask import DaskBackend, RunLost

log = logging.getLogger("webapp.worker.dask")

WAITING_FOR_SLOT = "waiting for a cluster slot"


def record_placement(db: Any, run_id: str, fields: dict[str, Any]) -> None:
    sets = ", ".join(f"[{name}] = ?" for name in fields)
    db.execute(f"UPDATE runs SET {sets} WHERE run_id = ?", [*fields.values(), run_id])


def placement(db: Any, run_id: str) -> dict[str, Any] | None:
    """Where a run executed: backend, host and Dask worker (None: not recorded)."""
    row = db.execute(
        "SELECT backend, host, dask_worker FROM runs WHERE run_id = ?", [run_id]
    ).fetchone()
    return dict(zip(("backend", "host", "dask_worker"), row, strict=True)) if row else None


def make_handler(worker: Any, backend: DaskBackend, build_argv: Any) -> Any:
    """A handler for ``worker`` that runs ``build_argv(context)`` on the cluster."""

    def run_on_cluster(context: TaskContext) -> Any:
        run = worker._find(context.id)
        argv = build_argv(context)
        request = {
            "run_id": context.id, "run_no": run.run_no, "project_id": run.project_id,
            "task_id": run.task_id, "env": dict(run.env), "grace": run.grace,
            "timeout": context.timeout, "git_repo": run.git_repo,
            "keep_daemons": run.keep_daemons,
        }  # fmt: skip

        def on_output(stream: str, data: bytes) -> None:
            worker._write_log(run, data, stream)

        with worker.store.write_lock:
            record_placement(worker.store.db, context.id, {"backend": "dask"})
        try:
            result = backend.run(
                argv, request, on_output,
                set_canceller=context.set_canceller, cancelled=lambda: context.cancelled,
            )  # fmt: skip
        except RunLost as exc:
            _save_where(worker, backend, context.id)
            _lose(worker, run, str(exc))
            raise
        except Exception:
            _save_where(worker, backend, context.id)
            raise
        _save_where(worker, backend, context.id)
        return result

    return run_on_cluster


def _save_where(worker: Any, backend: DaskBackend, run_id: str) -> None:
    where = backend.last_where.pop(run_id, None) or {}
    if where.get("worker"):
        with worker.store.write_lock:
            record_placement(worker.store.db, run_id, {
                "host": where.get("name") or where.get("host"), "dask_worker": where["worker"],
            })  # fmt: skip


def _lose(worker: Any, run: Any, reason: str) -> None:
    db = worker.store.db
    try:
        with worker.store.lock, worker.store.write_lock, immediate(db):
            if recovery.mark_run_lost(worker.settings, {"run_id": run.id}, reason, worker.id):
                run.ended_by = reason
    except Exception:
        log.exception("worker %s: could not mark %s lost", worker.id, run.id)


def backend_from_env() -> DaskBackend | None:
    """The cluster backend when ``WEBAPP_DASK_SCHEDULER`` is set (else None: local runs)."""
    from webapp.worker.backends.dask import scheduler_address

    address = scheduler_address()
    return DaskBackend(address) if address else None


def install(worker: Any, backend: DaskBackend) -> None:
    """Send ``worker``'s shell and PowerShell runs to the cluster. They do not outlive the
    worker: when it stops they are stopped on the cluster and recorded lost."""
    from webapp.engine import TaskType
    from webapp.engine.handlers.bash import bash_argv
    from webapp.engine.handlers.powershell import powershell_argv

    worker.executor.register(TaskType.BASH, make_handler(worker, backend, bash_argv))
    worker.executor.register(TaskType.POWERSHELL, make_handler(worker, backend, powershell_argv))
    worker._outlives_worker = lambda run: False
