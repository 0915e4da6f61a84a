"""Seed 000's ``TaskMeta.status``: a stored ``running`` checked against live state.

The database says a run is running as long as nobody recorded its end. That is the truth
while its worker lives; when the worker's heartbeat is stale and neither the run's process
nor the worker's can be found, nobody can vouch for it, and the task shows ``unknown`` with
the reason until recovery (a surviving worker) decides what became of it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from webapp.orchestration import context, recovery
from webapp.store import workers

UNKNOWN = "unknown"


def _process_found(pid: int | None, proc_start: str | None, hostname: str | None) -> bool:
    """False only when the process is provably gone (on this host); elsewhere we can't tell."""
    if not pid:
        return False
    if hostname is not None and hostname != recovery.HOSTNAME:
        return True
    return recovery.process_start(pid) == proc_start


def unknown_reason(run: dict[str, Any] | None, now: float | None = None) -> str | None:
    """Why a running run's state is unknown, or None while something vouches for it."""
    if not run or not run.get("worker_id"):
        return None
    settings = context.current()
    worker = workers.get_worker(settings.store.db, run["worker_id"])
    if worker is None:
        return f"its worker {run['worker_id']} is not registered"
    silent = (time.time() if now is None else now) - worker["heartbeat_at"]
    if silent <= settings.worker_lost_after:
        return None
    host = worker["hostname"]
    if _process_found(run.get("pid"), run.get("proc_start"), host):
        return None
    if _process_found(worker["pid"], worker["proc_start"], host):
        return None
    process = f"process {run['pid']}" if run.get("pid") else f"worker process {worker['pid']}"
    return (
        f"worker {worker['id']} sent no heartbeat for {silent:.0f} s and its {process} "
        f"on {host} cannot be found; recovery will decide"
    )


_RUN_COLUMNS = ("worker_id", "pid", "proc_start")


def _run_row(run_id: str) -> dict[str, Any] | None:
    sql = f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs WHERE run_id = ?"
    values = context.db().execute(sql, [run_id]).fetchone()
    return None if values is None else dict(zip(_RUN_COLUMNS, values, strict=True))


def hydrate(meta: Any) -> Any:
    """``meta`` with its status checked against live state (only ``running`` can change)."""
    if meta.status != "running":
        return meta
    reason = unknown_reason(_run_row(meta.run_id))
    return meta if reason is None else replace(meta, status=UNKNOWN, status_reason=reason)
