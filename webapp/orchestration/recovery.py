"""Lost tasks: finding dead workers, killing what they left running, marking it "lost".

A worker row records its host, PID and the PID's start time (``/proc/<pid>/stat`` field
22, prefixed with the boot ID), so a PID reused by another process never passes for the
worker, and a recorded process group is killed only while it still belongs to the task:
its leader must have the recorded start time, or be gone with members left (Linux never
reuses a PID while it still names a process group).

A worker is dead when it ran on this host and its process is gone, or when its heartbeat
is older than ``worker_lost_after``. Reaping takes the dead worker's row in the same
``BEGIN IMMEDIATE`` transaction that marks its runs failed with reason "lost", so two
reapers never reap the same worker; nothing else is changed, except that the graphs the
dead worker was running go back to the queue (their DONE members stay done).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from datetime import datetime
from functools import cache
from typing import Any

from webapp.engine.task import TaskResult, TaskStatus
from webapp.orchestration.context import Settings
from webapp.orchestration.status import LOST_REASON
from webapp.store import accounts as audit_log
from webapp.store import graph_records, records, workers
from webapp.store.db import immediate

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


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and fields[0] not in ("Z", "X") and fields[2] == str(pgid):
            found.append(int(entry.name))
    return found


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
    if leader is None and not group_pids(pgid):
        return "gone"
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        return "reused"
    return "killed"


RUN_ENV = "WEBAPP_RUN_ID"


def run_processes(run_ids: list[str]) -> dict[str, list[int]]:
    """Live processes carrying ``WEBAPP_RUN_ID=<run id>`` in their environment, by run.

    Every task process gets its run ID in its environment, so processes started just
    before their worker died (before their group was recorded), or that left the group,
    are still found; a run ID is unique, so a reused PID never matches.
    """
    wanted = {f"{RUN_ENV}={run_id}".encode(): run_id for run_id in run_ids}
    found: dict[str, list[int]] = {}
    if not wanted:
        return found
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as fh:
                variables = fh.read().split(b"\0")
        except OSError:
            continue
        for variable in variables:
            run_id = wanted.get(variable)
            if run_id is not None and process_start(int(entry.name)):
                found.setdefault(run_id, []).append(int(entry.name))
    return found


def kill_run_processes(run_ids: list[str], *, rounds: int = 5) -> int:
    """SIGKILL every live process of these runs and their process groups; returns how many.

    A process found by its run ID is the run's own, so its whole group goes too (that also
    takes a child forked after the scan). Scans again until nothing is left (a few rounds);
    a process killed but not dead yet when the next round scans counts once.
    """
    killed: set[int] = set()
    for _ in range(rounds):
        found = [pid for pids in run_processes(run_ids).values() for pid in pids]
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
    return len(killed)


def dead_reason(row: dict[str, Any], now: float, lost_after: float) -> str | None:
    """Why a worker row belongs to a dead worker, or None if it may be alive."""
    if row["hostname"] == HOSTNAME and process_start(row["pid"]) != row["proc_start"]:
        return f"worker {row['id']} (pid {row['pid']} on {row['hostname']}) is gone"
    silent = now - row["heartbeat_at"]
    if silent > lost_after:
        return f"worker {row['id']} sent no heartbeat for {silent:.0f} s"
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


def _finish_runs(settings: Settings, runs: list[dict], reason: str, actor: str, local: bool):
    lost = []
    if local and runs:
        for run in runs:
            if kill_process_group(run["pgid"], run["proc_start"]) == "reused":
                log.warning("process group %s of lost run %s was reused", run["pgid"], run)
        kill_run_processes([run["run_id"] for run in runs])
    for run in runs:
        if mark_run_lost(settings, run, f"{reason}; the task was lost", actor):
            lost.append(run)
    return lost


def _requeue_graphs(db: Any, worker_id: str, note: str, reaper_id: str) -> None:
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


def reap_dead_workers(
    settings: Settings, reaper_id: str, *, now: float | None = None
) -> list[dict[str, Any]]:
    """Mark the running tasks of every dead worker lost and kill their process groups.

    Also picks up running runs whose worker row is stopped, reaped or missing. Returns the
    runs marked lost.
    """
    now = time.time() if now is None else now
    db = settings.store.db
    lost: list[dict[str, Any]] = []
    for row in workers.live_worker_rows(db):
        if row["id"] == reaper_id:
            continue
        reason = dead_reason(row, now, settings.worker_lost_after)
        if reason is None:
            continue
        with settings.store.write_lock, immediate(db):
            if not workers.take_reap(db, row["id"], reaper_id, now):
                continue
            runs = workers.running_runs_of(db, row["id"])
            local = row["hostname"] == HOSTNAME
            lost += _finish_runs(settings, runs, reason, reaper_id, local)
            _requeue_graphs(db, row["id"], f"requeued: {reason}", reaper_id)
        log.warning("%s: marked %d running task(s) lost", reason, len(runs))
    with settings.store.write_lock, immediate(db):
        for _, worker_id in graph_records.orphaned_graphs(db):
            _requeue_graphs(db, worker_id, f"requeued: worker {worker_id} left", reaper_id)
        orphans = workers.orphaned_runs(db)
        for run in orphans:
            reason = f"worker {run['worker_id']} no longer runs this task"
            local = run["hostname"] in (None, HOSTNAME)
            lost += _finish_runs(settings, [run], reason, reaper_id, local)
    return lost
