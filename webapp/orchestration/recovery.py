"""Lost tasks: proving a worker dead, and marking a run it left "lost".

A worker row records its host, PID and the PID's start time (``/proc/<pid>/stat`` field
22, prefixed with the boot ID), so a PID reused by another process never passes for the
worker. On this host a worker is dead only when its process is gone; on another host, when
its heartbeat is stale while the database was writable (see :func:`dead_reason`).

What happens to the runs of a dead worker (reattached to their supervisors, recorded with
the outcome their supervisor wrote, or lost) is the worker's business:
:mod:`webapp.worker.reattach`; all process control lives in
:mod:`webapp.worker.backends.local`. :func:`kill_process_group` stays here as the delete's
last resort for a run that ignored its stop request.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from datetime import datetime
from functools import cache
from typing import Any

from webapp.engine.task import TaskResult, TaskStatus
from webapp.orchestration.context import Settings
from webapp.orchestration.status import LOST_REASON
from webapp.store import accounts as audit_log
from webapp.store import graph_records, records

log = logging.getLogger(__name__)

HOSTNAME = socket.gethostname()


@cache
def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip()
    except OSError:
        return "no-boot-id"


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (field 3 onwards)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2 :].decode("ascii", "replace").split()


def process_start(pid: int | None) -> str | None:
    """``<boot id>:<start ticks>`` of a live process, or None if there is none (or a zombie)."""
    if not pid or pid <= 0:
        return None
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return f"{boot_id()}:{fields[19]}"


def this_process() -> dict[str, Any]:
    """hostname, pid and proc_start of the calling process."""
    pid = os.getpid()
    return {"hostname": HOSTNAME, "pid": pid, "proc_start": process_start(pid)}


def process_token() -> str:
    """One string naming this process for as long as it lives (``host:pid:start``)."""
    me = this_process()
    return f"{me['hostname']}|{me['pid']}|{me['proc_start']}"


def token_alive(token: str | None) -> bool | None:
    """Is the process a ``process_token`` names still alive? None when it ran elsewhere."""
    if not token:
        return False
    hostname, _, rest = token.partition("|")
    pid, _, start = rest.partition("|")
    if hostname != HOSTNAME:
        return None
    return pid.isdigit() and process_start(int(pid)) == start


def _group_alive(pgid: int) -> bool:
    """Is any live (non-zombie) process still in the process group ``pgid``?"""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[0] not in ("Z", "X") and fields[2] == str(pgid):
                return True
    return False


def kill_process_group(pgid: int | None, leader_start: str | None) -> str:
    """SIGKILL a recorded process group if it still belongs to its run.

    Returns "killed", "gone" (nothing left) or "reused" (the ID now names someone else's
    process: left alone).
    """
    if not pgid or pgid <= 1:
        return "gone"
    leader = process_start(pgid)
    if leader is not None and leader != leader_start:
        return "reused"
    if leader is None and not _group_alive(pgid):
        return "gone"
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        return "reused"
    return "killed"


RUN_ENV = "WEBAPP_RUN_ID"


def dead_reason(
    row: dict[str, Any], now: float, lost_after: float, *, writable_since: float | None = None
) -> str | None:
    """Why a worker row belongs to a dead worker, or None if it may be alive.

    On this host only a gone process (PID plus start time) proves death: a live worker that
    could not write its heartbeat (a long write lock) is never declared dead. A worker on
    another host is dead when its heartbeat is older than ``lost_after`` *counted from when
    the database was last seen writable*: ``writable_since`` is the time since which the
    caller's own heartbeats have all been written (None: not writable now).
    """
    if row["hostname"] == HOSTNAME:
        if process_start(row["pid"]) != row["proc_start"]:
            return f"worker {row['id']} (pid {row['pid']} on {row['hostname']}) is gone"
        return None
    if writable_since is None:
        return None
    silent = now - max(row["heartbeat_at"], writable_since)
    if silent > lost_after:
        return f"worker {row['id']} sent no heartbeat for {now - row['heartbeat_at']:.0f} s"
    return None


def mark_run_lost(settings: Settings, run: dict[str, Any], reason: str, actor: str) -> bool:
    """Inside the caller's transaction: fail a RUNNING run with reason "lost"."""
    store = settings.store
    try:
        task = store.tasks[run["run_id"]]
    except KeyError:
        return False
    if task.status is not TaskStatus.RUNNING:
        return False
    db = store.db
    run_row = records.get_run(db, run["run_id"])
    started = run_row["started_at"]
    started_at = records.parse_time(started) if started else datetime.now()
    started_at = started_at.astimezone().replace(tzinfo=None)  # engine times are naive local
    finished_at = datetime.now()
    result = TaskResult(
        task.id,
        TaskStatus.FAILED,
        started_at,
        finished_at,
        max(0.0, (finished_at - started_at).total_seconds()),
        error=reason,
        termination_reason=LOST_REASON,
    )
    task.set_result(result)
    task.transition_to(TaskStatus.FAILED, error=reason)
    with store.acting(actor, reason):
        store.tasks.save(task)
    records.update_run(db, run["run_id"], {"lost": 1})
    audit_log.insert_system_audit(
        db,
        actor=actor,
        action="task.lost",
        target=f"{run_row['project_id']}/{run_row['task_id']}",
        detail=f"run {run_row['run_no']}: {reason}",
    )
    return True


def requeue_graphs(db: Any, worker_id: str, note: str, reaper_id: str) -> None:
    """Inside the caller's transaction: requeue a dead worker's graphs, each one on record."""
    for graph_id in graph_records.requeue_graphs_of(db, worker_id, note):
        graph = graph_records.get_graph(db, graph_id)
        audit_log.insert_system_audit(
            db,
            actor=reaper_id,
            action="graph.requeue",
            target=f"{graph['project_id']}/{graph_id}",
            detail=note,
        )
