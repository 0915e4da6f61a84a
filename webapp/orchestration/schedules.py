"""Schedules: start a task definition on a cron line or an interval, exactly once per slot.

A schedule stores its next slot (``next_at``, epoch seconds); :mod:`.schedule_firing`
takes due slots, once each whatever the number of processes. This module checks and saves
the definitions and computes slots.

Policies, as the peers' users asked for them:
- ``misfire`` after downtime: ``once`` runs the latest missed slot once; ``skip`` runs
  nothing unless the latest slot is within ``MISFIRE_GRACE`` seconds. Never a flood: slots
  missed before the latest one are only counted.
- ``overlap`` while the schedule's previous task is queued or running: ``skip`` records the
  slot as skipped; ``queue`` holds one run back until the previous one ends; ``parallel``
  starts it anyway.
Every function takes ``now`` (epoch seconds) so tests step a clock instead of sleeping.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from webapp.orchestration import context
from webapp.orchestration.errors import InvalidField, InvalidTaskRequest, OrchestrationError
from webapp.orchestration.lifecycle import _check_definition
from webapp.orchestration.projects import project_row
from webapp.store import automation, records
from webapp.store.db import immediate

OVERLAP_POLICIES = ("skip", "queue", "parallel")
MISFIRE_POLICIES = ("once", "skip")
MISFIRE_GRACE = 60.0
MIN_INTERVAL = 10.0
MAX_INTERVAL = 366 * 24 * 3600.0
MAX_NAME = 60
CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
ACTOR_PREFIX = "schedule:"


class InvalidSchedule(InvalidField):
    """A schedule field that cannot be used."""


class ScheduleNotFound(OrchestrationError, LookupError):
    """No schedule of that name or ID in the project."""


@dataclass(frozen=True)
class Schedule:
    id: str
    project_id: str
    name: str
    kind: str
    """``cron`` or ``interval``."""
    cron: str | None
    interval_seconds: float | None
    timezone: str
    enabled: bool
    overlap: str
    misfire: str
    task_name: str | None
    task_type: str
    payload: str
    description: str
    timeout: float | None
    next_at: float | None
    last_slot: float | None
    last_task_id: str | None
    created_at: str
    created_by: str | None
    version: int

    @property
    def every(self) -> str:
        """The rule in words: the cron line, or ``every 300 s``."""
        if self.kind == "cron":
            return self.cron or ""
        return f"every {self.interval_seconds:g} s"

    def next_times(self, count: int = 5, now: float | None = None) -> list[datetime]:
        return next_times(
            cron=self.cron, every=self.interval_seconds, timezone=self.timezone, count=count,
            now=now, anchor=anchor_of(self),
        )  # fmt: skip

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Schedule:
        values = {name: row.get(name) for name in cls.__dataclass_fields__}
        values["enabled"] = bool(row["enabled"])
        return cls(**values)


def anchor_of(schedule: Schedule | dict[str, Any]) -> float:
    created = schedule["created_at"] if isinstance(schedule, dict) else schedule.created_at
    parsed = records.parse_time(created)
    return parsed.replace(tzinfo=UTC).timestamp() if parsed else 0.0


def check_timezone(name: Any) -> ZoneInfo:
    if not isinstance(name, str) or not name.strip():
        raise InvalidSchedule("timezone", "Give a time zone such as UTC or Europe/Berlin")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(
            "timezone", f"Unknown time zone {name!r}; use a name such as UTC or Europe/Berlin"
        ) from None


def check_cron(line: Any) -> str:
    """The cron line, normalised; InvalidSchedule naming the first field that is wrong."""
    if not isinstance(line, str) or not line.strip():
        raise InvalidSchedule("cron", "Give a cron line of five fields, e.g. */5 * * * *")
    parts = line.split()
    if len(parts) != 5:
        raise InvalidSchedule(
            "cron",
            f"A cron line has five fields (minute hour day-of-month month day-of-week); "
            f"{line.strip()!r} has {len(parts)}",
        )
    for index, part in enumerate(parts):
        probe = ["*"] * 5
        probe[index] = part
        if not croniter.is_valid(" ".join(probe)):
            raise InvalidSchedule(
                "cron", f"The {CRON_FIELDS[index]} field {part!r} is not valid in {line.strip()!r}"
            )
    normal = " ".join(parts)
    if not croniter.is_valid(normal):
        raise InvalidSchedule("cron", f"{normal!r} is not a valid cron line")
    return normal


def check_interval(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not MIN_INTERVAL <= value <= MAX_INTERVAL
    ):
        raise InvalidSchedule(
            "every",
            f"The interval must be a number of seconds from {MIN_INTERVAL:g} to "
            f"{MAX_INTERVAL:g}, got {value!r}",
        )
    return float(value)


def next_after(
    after: float, *, cron: str | None, every: float | None, zone: ZoneInfo, anchor: float
) -> float:
    """The first slot strictly after ``after`` (epoch seconds)."""
    if cron:
        return float(croniter(cron, datetime.fromtimestamp(after, zone)).get_next(float))
    assert every
    steps = math.floor((after - anchor) / every) + 1
    return anchor + max(steps, 1) * every


def next_times(
    *,
    cron: str | None = None,
    every: float | None = None,
    timezone: str = "UTC",
    count: int = 5,
    now: float | None = None,
    anchor: float | None = None,
) -> list[datetime]:
    """The next ``count`` slots after ``now`` as aware datetimes in ``timezone``; the preview
    the schedule form shows as you type."""
    zone = check_timezone(timezone)
    if cron is None and every is None:
        raise InvalidSchedule("cron", "Give a cron line or an interval")
    cron = check_cron(cron) if cron is not None else None
    every = check_interval(every) if cron is None else None
    now = time.time() if now is None else now
    anchor = now if anchor is None else anchor
    slots, at = [], now
    for _ in range(max(0, min(count, 50))):
        at = next_after(at, cron=cron, every=every, zone=zone, anchor=anchor)
        slots.append(datetime.fromtimestamp(at, zone))
    return slots


def _check_choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidSchedule(field, f"{field} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise InvalidSchedule("name", f"Give the schedule a name of 1 to {MAX_NAME} characters")
    name = name.strip()
    if any(ord(char) < 32 for char in name) or "/" in name:
        raise InvalidSchedule("name", "A schedule name has no control characters and no '/'")
    return name


def _definition(fields: dict[str, Any]) -> dict[str, Any]:
    """The checked schedule columns of ``fields`` (a whole definition)."""
    cron, every = fields.get("cron"), fields.get("every")
    if cron not in (None, "") and every not in (None, ""):
        raise InvalidSchedule("cron", "Give either a cron line or an interval, not both")
    zone = check_timezone(fields.get("timezone") or "UTC")
    if cron not in (None, ""):
        kind, cron, every = "cron", check_cron(cron), None
    else:
        kind, cron, every = "interval", None, check_interval(every)
    try:
        task_type = _check_definition(
            fields.get("task_type") or "bash", fields.get("payload"),
            fields.get("description") or "", fields.get("timeout"),
        ).value  # fmt: skip
    except InvalidTaskRequest as error:
        text = str(error)
        field = next((f for f in ("payload", "timeout", "description") if f in text.lower()), "")
        raise InvalidSchedule(field or "task_type", text) from None
    task_name = fields.get("task_name") or None
    return {
        "name": _check_name(fields.get("name")), "kind": kind, "cron": cron,
        "interval_seconds": every, "timezone": zone.key,
        "enabled": int(bool(fields.get("enabled", True))),
        "overlap": _check_choice("overlap", fields.get("overlap") or "skip", OVERLAP_POLICIES),
        "misfire": _check_choice("misfire", fields.get("misfire") or "once", MISFIRE_POLICIES),
        "task_name": task_name.strip()[:200] if isinstance(task_name, str) else None,
        "task_type": task_type, "payload": fields["payload"],
        "description": fields.get("description") or "", "timeout": fields.get("timeout"),
    }  # fmt: skip


def _first_slot(row: dict[str, Any], now: float) -> float:
    return next_after(
        now, cron=row["cron"], every=row["interval_seconds"], zone=ZoneInfo(row["timezone"]),
        anchor=anchor_of(row),
    )  # fmt: skip


@contextmanager
def write_transaction() -> Iterator[Any]:
    """The store's locks and one ``BEGIN IMMEDIATE`` (lifecycle calls nest as savepoints)."""
    store = context.store()
    with store.lock, store.write_lock, immediate(store.db) as db:
        yield db


def schedule_create(
    project_id: str, *, actor: str = "system", now: float | None = None, **fields: Any
) -> Schedule:
    """Save a schedule (``name``, ``cron`` or ``every``, ``payload``, ...); next slot set."""
    project_row(project_id)
    values = _definition(fields)
    now = time.time() if now is None else now
    created = datetime.fromtimestamp(now, UTC).replace(tzinfo=None).isoformat()
    row = {
        "id": "s" + secrets.token_hex(4), "project_id": project_id, **values,
        "created_at": created, "created_by": actor, "updated_at": created, "version": 1,
    }  # fmt: skip
    row["next_at"] = _first_slot(row, now)
    with write_transaction() as db:
        if automation.schedule_by_name(db, project_id, values["name"]) is not None:
            raise InvalidSchedule("name", f"Project {project_id} already has a schedule "
                                  f"named {values['name']!r}")  # fmt: skip
        automation.insert_schedule(db, row)
    return Schedule.from_row(row)


def _find(db: Any, project_id: str, ref: str) -> dict[str, Any]:
    row = automation.get_schedule(db, ref)
    if row is None or row["project_id"] != project_id:
        row = automation.schedule_by_name(db, project_id, ref)
    if row is None:
        project_row(project_id)
        raise ScheduleNotFound(f"No schedule {ref!r} in project {project_id}")
    return row


def schedule_get(project_id: str, ref: str) -> Schedule:
    return Schedule.from_row(_find(context.db(), project_id, ref))


def schedule_list(project_id: str) -> list[Schedule]:
    project_row(project_id)
    return [Schedule.from_row(row) for row in automation.list_schedules(context.db(), project_id)]


def schedule_update(
    project_id: str, ref: str, *, actor: str = "system", now: float | None = None, **fields: Any
) -> Schedule:
    """Change fields of a schedule (the rest kept); a new rule or a resume moves the next
    slot to the first one after ``now``."""
    now = time.time() if now is None else now
    with write_transaction() as db:
        row = _find(db, project_id, ref)
        current = {
            **row,
            "every": row["interval_seconds"],
            "cron": row["cron"] if "every" not in fields else None,
        }
        if "cron" in fields:
            current["every"] = None
        values = _definition({**current, **fields})
        if values["name"] != row["name"] and automation.schedule_by_name(
            db, project_id, values["name"]
        ):
            raise InvalidSchedule("name", f"Another schedule is named {values['name']!r}")
        merged = {**row, **values}
        rule_changed = any(merged[k] != row[k] for k in ("cron", "interval_seconds", "timezone"))
        if rule_changed or (merged["enabled"] and not row["enabled"]):
            merged["next_at"] = _first_slot(merged, now)
        changes = {k: merged[k] for k in (*values, "next_at") if merged[k] != row[k]}
        changes["updated_at"] = records.now_text()
        changes["version"] = row["version"] + 1
        automation.update_schedule(db, row["id"], changes)
        return Schedule.from_row({**merged, **changes})


def schedule_delete(project_id: str, ref: str) -> Schedule:
    with write_transaction() as db:
        row = _find(db, project_id, ref)
        automation.delete_schedule(db, row["id"])
    return Schedule.from_row(row)


def schedule_fires(project_id: str, ref: str, limit: int = 20) -> list[dict[str, Any]]:
    """The schedule's latest slots: started (with their task), skipped or waiting."""
    db = context.db()
    return automation.fires_of(db, _find(db, project_id, ref)["id"], limit)
