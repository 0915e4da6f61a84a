"""Firing schedules: each due slot handled once, whatever the number of processes.

Whoever calls :func:`fire_due` (every worker process, through its automation loop) takes
due schedules one ``BEGIN IMMEDIATE`` transaction each: the slot's row in
``schedule_fires`` (primary key ``(schedule_id, slot)``), the task it starts and the
schedule's next slot are written together. The policies are described in
:mod:`.schedules`. Every function takes ``now`` (epoch seconds) so tests step a clock.
"""

from __future__ import annotations

import time
from typing import Any
from zoneinfo import ZoneInfo

from webapp.orchestration import context
from webapp.orchestration.errors import InvalidTaskRequest, ProjectNotFound
from webapp.orchestration.lifecycle import task_new
from webapp.orchestration.schedules import (
    ACTOR_PREFIX,
    MISFIRE_GRACE,
    anchor_of,
    next_after,
    write_transaction,
)
from webapp.orchestration.status import TERMINAL_STATUSES
from webapp.store import automation, records


def started_by(project_id: str, task_id: str) -> dict[str, Any] | None:
    """The schedule fire that created a task (``schedule_name``, ``slot``), or None."""
    return automation.fire_of_task(context.db(), project_id, task_id)


def _task_status(db: Any, project_id: str, task_id: str | None) -> str | None:
    if not task_id:
        return None
    row = records.get_task_record(db, project_id, task_id)
    return None if row is None else row["status"]


def _start(db: Any, schedule: dict[str, Any], slot: float, note: str | None) -> dict[str, Any]:
    """Create the slot's task inside the open transaction; the fire row says what happened."""
    fire = {"schedule_id": schedule["id"], "slot": slot, "project_id": schedule["project_id"],
            "at": records.now_text()}  # fmt: skip
    try:
        task = task_new(
            schedule["project_id"], name=schedule["task_name"] or schedule["name"],
            type=schedule["task_type"], payload=schedule["payload"],
            description=schedule["description"] or "", timeout=schedule["timeout"],
            actor=ACTOR_PREFIX + schedule["name"],
        )  # fmt: skip
    except (InvalidTaskRequest, ProjectNotFound) as error:
        return {**fire, "state": "failed", "reason": str(error)[:300]}
    automation.update_schedule(
        db, schedule["id"], {"last_task_id": task.task_id, "last_slot": slot}
    )
    schedule["last_task_id"] = task.task_id
    return {**fire, "state": "started", "task_id": task.task_id, "reason": note}


def _decide(db: Any, schedule: dict[str, Any], now: float) -> tuple[float, dict, float]:
    """(slot, fire row, next slot) for a due schedule; state ``start`` means run it now."""
    zone = ZoneInfo(schedule["timezone"])
    rule = {"cron": schedule["cron"], "every": schedule["interval_seconds"], "zone": zone,
            "anchor": anchor_of(schedule)}  # fmt: skip
    slot, missed = schedule["next_at"], 0
    following = next_after(slot, **rule)
    while following <= now and missed < 100_000:
        slot, following, missed = following, next_after(following, **rule), missed + 1
    if following <= now:  # more slots than counted: jump straight past now
        slot, following = now, next_after(now, **rule)
    note = f"{missed} earlier slot(s) missed while nothing was running" if missed else None
    base = {"schedule_id": schedule["id"], "slot": slot, "project_id": schedule["project_id"],
            "at": records.now_text()}  # fmt: skip
    if schedule["misfire"] == "skip" and now - slot > MISFIRE_GRACE:
        return slot, {**base, "state": "skipped", "reason": "missed (misfire policy: skip)"}, \
            following  # fmt: skip
    previous = _task_status(db, schedule["project_id"], schedule["last_task_id"])
    busy = previous is not None and previous not in TERMINAL_STATUSES
    if busy and schedule["overlap"] == "skip":
        reason = f"the previous run {schedule['last_task_id']} was still {previous}"
        return slot, {**base, "state": "skipped", "reason": reason}, following
    if busy and schedule["overlap"] == "queue":
        if any(f["schedule_id"] == schedule["id"] for f in automation.open_fires(db)):
            return slot, {**base, "state": "skipped", "reason": "a run is already waiting"}, \
                following  # fmt: skip
        return slot, {**base, "state": "waiting", "reason": note}, following
    return slot, {**base, "state": "start", "reason": note}, following


def fire_due(now: float | None = None) -> list[dict[str, Any]]:
    """Handle every due slot once (whoever calls first); returns the fire rows written."""
    now = time.time() if now is None else now
    written = []
    for candidate in automation.due_schedules(context.db(), now):
        with write_transaction() as db:
            schedule = automation.get_schedule(db, candidate["id"])
            if schedule is None or not schedule["enabled"] or schedule["next_at"] > now:
                continue  # another process took it meanwhile
            slot, fire, following = _decide(db, schedule, now)
            if fire["state"] == "start":
                fire = _start(db, schedule, slot, fire["reason"])
            if automation.insert_fire(db, fire):
                written.append(fire)
            automation.update_schedule(db, schedule["id"], {"next_at": following})
    return written


def start_waiting(now: float | None = None) -> list[dict[str, Any]]:
    """Start held-back (overlap ``queue``) runs whose previous run has ended."""
    started = []
    for fire in automation.open_fires(context.db()):
        if fire["state"] != "waiting":
            continue
        with write_transaction() as db:
            if not automation.settle_fire(
                db, fire["schedule_id"], fire["slot"], "starting", expect="waiting"
            ):
                continue  # another process took it
            schedule = automation.get_schedule(db, fire["schedule_id"])
            previous = schedule and _task_status(
                db, schedule["project_id"], schedule["last_task_id"]
            )
            if schedule is None:
                outcome = {"state": "skipped", "reason": "the schedule was deleted"}
            elif previous is not None and previous not in TERMINAL_STATUSES:
                outcome = {"state": "waiting", "reason": fire["reason"]}
            else:
                outcome = _start(db, schedule, fire["slot"], fire["reason"])
            automation.settle_fire(
                db, fire["schedule_id"], fire["slot"], outcome["state"], expect="starting",
                task_id=outcome.get("task_id"), reason=outcome.get("reason"),
            )  # fmt: skip
            if outcome["state"] == "started":
                started.append({**fire, **outcome})
    return started
