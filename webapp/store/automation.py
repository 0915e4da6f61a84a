"""Schedules and notifications on SQLite: migration set ``"webapp.automation"`` and its SQL.

Tables: ``schedules`` (what to start and when: ``next_at`` is the next slot, epoch seconds),
``schedule_fires`` (one row per slot a schedule handled, primary key ``(schedule_id, slot)``,
so a slot can be taken once whatever the number of processes), ``notify_channels`` (a
project's webhook and e-mail targets; ``target`` is a secret never read back by the web),
``deliveries`` (queued notifications with attempts, backoff and last error) and
``automation_cursors`` (how far the transitions log has been turned into deliveries).
Every function takes the caller's ``Database``; callers group writes with ``immediate``.
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

automation_migrations = Migrations("webapp.automation")

SCHEDULE_COLUMNS = (
    "id", "project_id", "name", "kind", "cron", "interval_seconds", "timezone", "enabled",
    "overlap", "misfire", "task_name", "task_type", "payload", "description", "timeout",
    "next_at", "last_slot", "last_task_id", "created_at", "created_by", "updated_at", "version",
)  # fmt: skip
CHANNEL_COLUMNS = (
    "id", "project_id", "name", "kind", "target", "target_hint", "events", "enabled",
    "created_at", "created_by",
)  # fmt: skip
DELIVERY_COLUMNS = (
    "id", "channel_id", "project_id", "task_id", "run_no", "event", "payload", "status",
    "attempts", "next_at", "last_error", "created_at", "delivered_at",
)  # fmt: skip


@automation_migrations()
def m16_automation_tables(db: Database) -> None:
    """schedules, schedule_fires, notify_channels, deliveries, automation_cursors."""
    db["schedules"].create(
        {
            "id": str, "project_id": str, "name": str, "kind": str, "cron": str,
            "interval_seconds": float, "timezone": str, "enabled": int, "overlap": str,
            "misfire": str, "task_name": str, "task_type": str, "payload": str,
            "description": str, "timeout": float, "next_at": float, "last_slot": float,
            "last_task_id": str, "created_at": str, "created_by": str, "updated_at": str,
            "version": int,
        },
        pk="id",
        not_null={"project_id", "name", "kind", "timezone", "enabled", "overlap", "misfire",
                  "task_type", "payload", "created_at", "version"},
        defaults={"enabled": 1, "version": 1, "description": ""},
        if_not_exists=True,
    )  # fmt: skip
    db["schedules"].create_index(["project_id", "name"], unique=True, if_not_exists=True)
    db.execute("CREATE INDEX IF NOT EXISTS schedules_due ON schedules (next_at) WHERE enabled = 1")
    db["schedule_fires"].create(
        {
            "schedule_id": str, "slot": float, "project_id": str, "state": str,
            "task_id": str, "reason": str, "at": str,
        },
        pk=("schedule_id", "slot"),
        not_null={"project_id", "state", "at"},
        if_not_exists=True,
    )  # fmt: skip
    db.execute(
        "CREATE INDEX IF NOT EXISTS schedule_fires_open ON schedule_fires (state, slot) "
        "WHERE state IN ('pending', 'waiting')"
    )
    db["schedule_fires"].create_index(["project_id", "task_id"], if_not_exists=True)
    db["notify_channels"].create(
        {
            "id": str, "project_id": str, "name": str, "kind": str, "target": str,
            "target_hint": str, "events": str, "enabled": int, "created_at": str,
            "created_by": str,
        },
        pk="id",
        not_null={"project_id", "name", "kind", "target", "events", "enabled", "created_at"},
        defaults={"enabled": 1},
        if_not_exists=True,
    )  # fmt: skip
    db["notify_channels"].create_index(["project_id", "name"], unique=True, if_not_exists=True)
    db["deliveries"].create(
        {
            "id": int, "channel_id": str, "project_id": str, "task_id": str, "run_no": int,
            "event": str, "payload": str, "status": str, "attempts": int, "next_at": float,
            "last_error": str, "created_at": str, "delivered_at": str,
        },
        pk="id",
        not_null={"channel_id", "project_id", "event", "payload", "status", "attempts",
                  "created_at"},
        defaults={"attempts": 0},
        if_not_exists=True,
    )  # fmt: skip
    db.execute(
        "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_at) WHERE status = 'pending'"
    )
    db["deliveries"].create_index(["project_id", "id"], if_not_exists=True)
    db["automation_cursors"].create(
        {"name": str, "position": int}, pk="name", not_null={"position"}, if_not_exists=True
    )


def _rows(db: Database, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _insert(db: Database, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    db.execute(
        f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})",
        tuple(row.values()),
    )


def _update(db: Database, table: str, key: str, value: Any, fields: dict[str, Any]) -> int:
    assignments = ", ".join(f"{name} = ?" for name in fields)
    cursor = db.execute(
        f"UPDATE {table} SET {assignments} WHERE {key} = ?", (*fields.values(), value)
    )
    return cursor.rowcount


# -- schedules ---------------------------------------------------------------------------------
def insert_schedule(db: Database, row: dict[str, Any]) -> None:
    _insert(db, "schedules", row)


def get_schedule(db: Database, schedule_id: str) -> dict[str, Any] | None:
    rows = _rows(db, "SELECT * FROM schedules WHERE id = ?", (schedule_id,))
    return rows[0] if rows else None


def schedule_by_name(db: Database, project_id: str, name: str) -> dict[str, Any] | None:
    rows = _rows(
        db, "SELECT * FROM schedules WHERE project_id = ? AND name = ?", (project_id, name)
    )
    return rows[0] if rows else None


def list_schedules(db: Database, project_id: str) -> list[dict[str, Any]]:
    return _rows(db, "SELECT * FROM schedules WHERE project_id = ? ORDER BY name", (project_id,))


def update_schedule(db: Database, schedule_id: str, fields: dict[str, Any]) -> int:
    return _update(db, "schedules", "id", schedule_id, fields)


def delete_schedule(db: Database, schedule_id: str) -> None:
    db.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))


def due_schedules(db: Database, now: float, limit: int = 100) -> list[dict[str, Any]]:
    return _rows(
        db,
        "SELECT * FROM schedules WHERE enabled = 1 AND next_at <= ? ORDER BY next_at LIMIT ?",
        (now, limit),
    )


def insert_fire(db: Database, row: dict[str, Any]) -> bool:
    """Take a slot; False when another process already took it."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO schedule_fires (schedule_id, slot, project_id, state, task_id, "
        "reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (row["schedule_id"], row["slot"], row["project_id"], row["state"], row.get("task_id"),
         row.get("reason"), row["at"]),
    )  # fmt: skip
    return cursor.rowcount == 1


def open_fires(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    """Fires whose task is still to be created (``pending``) or held back (``waiting``)."""
    return _rows(
        db,
        "SELECT * FROM schedule_fires WHERE state IN ('pending', 'waiting') ORDER BY slot LIMIT ?",
        (limit,),
    )


def settle_fire(
    db: Database, schedule_id: str, slot: float, state: str, *, expect: str, **fields: Any
) -> bool:
    """Move a fire from ``expect`` to ``state``; False when someone else moved it first."""
    extra = "".join(f", {name} = ?" for name in fields)
    cursor = db.execute(
        f"UPDATE schedule_fires SET state = ?{extra} WHERE schedule_id = ? AND slot = ? "
        "AND state = ?",
        (state, *fields.values(), schedule_id, slot, expect),
    )
    return cursor.rowcount == 1


def fires_of(db: Database, schedule_id: str, limit: int = 20) -> list[dict[str, Any]]:
    return _rows(
        db,
        "SELECT * FROM schedule_fires WHERE schedule_id = ? ORDER BY slot DESC LIMIT ?",
        (schedule_id, limit),
    )


def fire_of_task(db: Database, project_id: str, task_id: str) -> dict[str, Any] | None:
    rows = _rows(
        db,
        "SELECT f.*, s.name AS schedule_name FROM schedule_fires f LEFT JOIN schedules s "
        "ON s.id = f.schedule_id WHERE f.project_id = ? AND f.task_id = ?",
        (project_id, task_id),
    )
    return rows[0] if rows else None


def previous_fire_task(db: Database, schedule_id: str, slot: float) -> str | None:
    """The task of the schedule's latest started fire before ``slot``."""
    row = db.execute(
        "SELECT task_id FROM schedule_fires WHERE schedule_id = ? AND slot < ? "
        "AND state = 'started' ORDER BY slot DESC LIMIT 1",
        (schedule_id, slot),
    ).fetchone()
    return row[0] if row else None


# -- notification channels ---------------------------------------------------------------------
def insert_channel(db: Database, row: dict[str, Any]) -> None:
    _insert(db, "notify_channels", {**row, "events": json.dumps(row["events"])})


def _channel(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "events": json.loads(row["events"]), "enabled": bool(row["enabled"])}


def get_channel(db: Database, channel_id: str) -> dict[str, Any] | None:
    rows = _rows(db, "SELECT * FROM notify_channels WHERE id = ?", (channel_id,))
    return _channel(rows[0]) if rows else None


def list_channels(db: Database, project_id: str) -> list[dict[str, Any]]:
    rows = _rows(
        db, "SELECT * FROM notify_channels WHERE project_id = ? ORDER BY name", (project_id,)
    )
    return [_channel(row) for row in rows]


def delete_channel(db: Database, channel_id: str) -> None:
    db.execute("DELETE FROM notify_channels WHERE id = ?", (channel_id,))


def update_channel(db: Database, channel_id: str, fields: dict[str, Any]) -> int:
    if "events" in fields:
        fields = {**fields, "events": json.dumps(fields["events"])}
    return _update(db, "notify_channels", "id", channel_id, fields)


# -- deliveries --------------------------------------------------------------------------------
def insert_delivery(db: Database, row: dict[str, Any]) -> None:
    _insert(db, "deliveries", row)


def due_deliveries(db: Database, now: float, limit: int = 20) -> list[dict[str, Any]]:
    return _rows(
        db,
        "SELECT * FROM deliveries WHERE status = 'pending' AND next_at <= ? ORDER BY next_at "
        "LIMIT ?",
        (now, limit),
    )


def update_delivery(db: Database, delivery_id: int, fields: dict[str, Any]) -> int:
    return _update(db, "deliveries", "id", delivery_id, fields)


def lease_delivery(db: Database, delivery_id: int, now: float, until: float) -> bool:
    """Take a due delivery for sending until ``until``; False when another process has it."""
    cursor = db.execute(
        "UPDATE deliveries SET next_at = ? WHERE id = ? AND status = 'pending' AND next_at <= ?",
        (until, delivery_id, now),
    )
    return cursor.rowcount == 1


def list_deliveries(
    db: Database, project_id: str, *, before: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Newest first, a keyset page: rows with an id below ``before``."""
    if before is None:
        return _rows(
            db,
            "SELECT * FROM deliveries WHERE project_id = ? ORDER BY id DESC LIMIT ?",
            (project_id, limit),
        )
    return _rows(
        db,
        "SELECT * FROM deliveries WHERE project_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        (project_id, before, limit),
    )


# -- the transitions cursor --------------------------------------------------------------------
def cursor_position(db: Database, name: str) -> int | None:
    row = db.execute("SELECT position FROM automation_cursors WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def set_cursor(db: Database, name: str, position: int) -> None:
    db.execute(
        "INSERT INTO automation_cursors (name, position) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        (name, position),
    )


def last_transition_id(db: Database) -> int:
    row = db.execute("SELECT max(id) FROM transitions").fetchone()
    return row[0] or 0


def transitions_after(db: Database, position: int, limit: int = 500) -> list[dict[str, Any]]:
    return _rows(
        db, "SELECT * FROM transitions WHERE id > ? ORDER BY id LIMIT ?", (position, limit)
    )


def previous_end(db: Database, project_id: str, task_id: str, before_id: int) -> str | None:
    """The status of the task's latest terminal transition before ``before_id``."""
    row = db.execute(
        "SELECT to_status FROM transitions WHERE project_id = ? AND task_id = ? AND id < ? "
        "AND to_status IN ('completed', 'failed', 'lost', 'cancelled') ORDER BY id DESC LIMIT 1",
        (project_id, task_id, before_id),
    ).fetchone()
    return row[0] if row else None
