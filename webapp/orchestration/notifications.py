"""Notifications: a project's channels, and the queue of deliveries its task outcomes make.

A channel is a generic JSON webhook, a Slack or Microsoft Teams incoming webhook, or e-mail
(through the configured SMTP server), subscribed to events: ``failed``, ``lost``,
``recovered`` (the first success after a failure or a loss of the same task, or of the
previous run of the same schedule) and optionally ``completed``.

Outcomes are read from the transitions log that every status change already writes: whoever
calls :func:`enqueue_events` (each worker's automation loop) moves a cursor over it in one
transaction, so each outcome makes its deliveries once and a run never waits for a
notification. Sending is :mod:`.delivery`'s job.

A webhook URL is a secret (it embeds the token that lets anyone post): it is stored and sent,
never shown again; pages, the API, the audit log and archives see ``target_hint`` only.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from webapp.orchestration import artifacts, context
from webapp.orchestration.errors import InvalidField, OrchestrationError
from webapp.orchestration.projects import project_row
from webapp.orchestration.schedules import ACTOR_PREFIX, write_transaction
from webapp.store import automation, records

CHANNEL_KINDS = ("webhook", "slack", "teams", "email")
EVENTS = ("failed", "lost", "recovered", "completed")
DEFAULT_EVENTS = ("failed", "lost", "recovered")
CURSOR = "notifications"
LOG_LINES = 20
MAX_TARGET = 2000
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


class InvalidChannel(InvalidField):
    """A notification channel field that cannot be used."""


class ChannelNotFound(OrchestrationError, LookupError):
    """No notification channel of that name or ID in the project."""


@dataclass(frozen=True)
class Channel:
    """A notification target as everyone may see it: the secret target is not here."""

    id: str
    project_id: str
    name: str
    kind: str
    target_hint: str
    events: tuple[str, ...]
    enabled: bool
    created_at: str
    created_by: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Channel:
        return cls(
            id=row["id"], project_id=row["project_id"], name=row["name"], kind=row["kind"],
            target_hint=row["target_hint"], events=tuple(row["events"]),
            enabled=bool(row["enabled"]), created_at=row["created_at"],
            created_by=row["created_by"],
        )  # fmt: skip


def hide_url(url: str) -> str:
    """What may be shown of a webhook URL: its scheme and host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/… (hidden)"


def _check_target(kind: str, target: Any) -> tuple[str, str]:
    """(target, hint) for a channel of ``kind``."""
    if not isinstance(target, str) or not target.strip() or len(target) > MAX_TARGET:
        raise InvalidChannel("target", f"Give the {kind} target (at most {MAX_TARGET} characters)")
    target = target.strip()
    if kind == "email":
        addresses = [a.strip() for a in target.split(",") if a.strip()]
        bad = [a for a in addresses if not _EMAIL.match(a)]
        if not addresses or bad:
            raise InvalidChannel(
                "target", f"Not an e-mail address: {bad[0] if bad else target!r}; separate "
                "several with commas",
            )  # fmt: skip
        joined = ", ".join(addresses)
        return joined, joined
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidChannel("target", "A webhook target is an http:// or https:// URL")
    return target, hide_url(target)


def _check_events(events: Any) -> list[str]:
    if isinstance(events, str):
        events = [e.strip() for e in events.split(",") if e.strip()]
    if not isinstance(events, list | tuple) or not events:
        raise InvalidChannel("events", f"Pick at least one event of: {', '.join(EVENTS)}")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise InvalidChannel(
            "events", f"Unknown event {unknown[0]!r}; choose from {', '.join(EVENTS)}"
        )
    return [e for e in EVENTS if e in events]


def channel_create(
    project_id: str,
    *,
    name: str,
    kind: str,
    target: str,
    events: Any = DEFAULT_EVENTS,
    actor: str = "system",
) -> Channel:
    """Save a channel; its target is write-only from here on."""
    project_row(project_id)
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 60:
        raise InvalidChannel("name", "Give the channel a name of 1 to 60 characters")
    if kind not in CHANNEL_KINDS:
        raise InvalidChannel("kind", f"kind must be one of {', '.join(CHANNEL_KINDS)}")
    target, hint = _check_target(kind, target)
    row = {
        "id": "c" + secrets.token_hex(4), "project_id": project_id, "name": name.strip(),
        "kind": kind, "target": target, "target_hint": hint, "events": _check_events(events),
        "enabled": 1, "created_at": records.now_text(), "created_by": actor,
    }  # fmt: skip
    with write_transaction() as db:
        if any(c["name"] == row["name"] for c in automation.list_channels(db, project_id)):
            raise InvalidChannel("name", f"Another channel is named {row['name']!r}")
        if automation.cursor_position(db, CURSOR) is None:  # outcomes from now on
            automation.set_cursor(db, CURSOR, automation.last_transition_id(db))
        automation.insert_channel(db, row)
    return Channel.from_row(row)


def _find(db: Any, project_id: str, ref: str) -> dict[str, Any]:
    for row in automation.list_channels(db, project_id):
        if ref in (row["id"], row["name"]):
            return row
    project_row(project_id)
    raise ChannelNotFound(f"No notification channel {ref!r} in project {project_id}")


def channel_list(project_id: str) -> list[Channel]:
    project_row(project_id)
    return [Channel.from_row(r) for r in automation.list_channels(context.db(), project_id)]


def channel_update(project_id: str, ref: str, **fields: Any) -> Channel:
    """Change ``events`` or ``enabled`` (a new target means a new channel: it is a secret)."""
    changes: dict[str, Any] = {}
    if "events" in fields:
        changes["events"] = _check_events(fields["events"])
    if "enabled" in fields:
        changes["enabled"] = int(bool(fields["enabled"]))
    with write_transaction() as db:
        row = _find(db, project_id, ref)
        if changes:
            automation.update_channel(db, row["id"], changes)
        return Channel.from_row({**row, **changes})


def channel_delete(project_id: str, ref: str) -> Channel:
    with write_transaction() as db:
        row = _find(db, project_id, ref)
        automation.delete_channel(db, row["id"])
    return Channel.from_row(row)


# -- outcomes -> deliveries --------------------------------------------------------------------
def _event(db: Any, transition: dict[str, Any], record: dict[str, Any] | None) -> str | None:
    status = transition["to_status"]
    if transition["from_status"] == status or status not in ("completed", "failed", "lost"):
        return None
    if status != "completed":
        return status
    before = automation.previous_end(
        db, transition["project_id"], transition["task_id"], transition["id"]
    )
    if before is None and record and (record["created_by"] or "").startswith(ACTOR_PREFIX):
        fire = automation.fire_of_task(db, transition["project_id"], transition["task_id"])
        previous = fire and automation.previous_fire_task(db, fire["schedule_id"], fire["slot"])
        if previous:
            row = records.get_task_record(db, transition["project_id"], previous)
            before = row["status"] if row else None
    return "recovered" if before in ("failed", "lost") else "completed"


def _log_lines(project_id: str, task_id: str, run_no: int | None) -> list[str]:
    try:
        chunk = artifacts.tail_task_log(project_id, task_id, lines=LOG_LINES, run_no=run_no)
    except (OSError, OrchestrationError):
        return []
    text = "".join(text for _stream, text in chunk.segments)
    return text.splitlines()[-LOG_LINES:]


def _payload(event: str, transition: dict[str, Any], record: dict[str, Any] | None) -> dict:
    project_id, task_id = transition["project_id"], transition["task_id"]
    base = context.current().public_url.rstrip("/")
    return {
        "event": event,
        "project": project_id,
        "task_id": task_id,
        "name": record["name"] if record else task_id,
        "status": transition["to_status"],
        "exit_code": record["exit_code"] if record else None,
        "reason": transition["reason"],
        "run": transition["run_no"],
        "at": transition["at"],
        "url": f"{base}/projects/{project_id}/tasks/{task_id}",
        "log_tail": _log_lines(project_id, task_id, transition["run_no"]),
    }


def enqueue_events(now: float) -> int:
    """Turn new outcomes in the transitions log into deliveries; returns how many were queued."""
    queued = 0
    with write_transaction() as db:
        position = automation.cursor_position(db, CURSOR)
        if position is None:  # no channel was ever made: nothing to catch up on
            automation.set_cursor(db, CURSOR, automation.last_transition_id(db))
            return 0
        channels: dict[str, list[dict[str, Any]]] = {}
        transitions = automation.transitions_after(db, position)
        for transition in transitions:
            project_id = transition["project_id"]
            if project_id not in channels:
                channels[project_id] = [
                    c for c in automation.list_channels(db, project_id) if c["enabled"]
                ]
            if not channels[project_id]:
                continue
            record = records.get_task_record(db, project_id, transition["task_id"])
            event = _event(db, transition, record)
            wanted = [
                c for c in channels[project_id]
                if event in c["events"] or (event == "recovered" and "completed" in c["events"])
            ]  # fmt: skip
            if not event or not wanted:
                continue
            payload = json.dumps(_payload(event, transition, record))
            for channel in wanted:
                automation.insert_delivery(
                    db,
                    {
                        "channel_id": channel["id"], "project_id": project_id,
                        "task_id": transition["task_id"], "run_no": transition["run_no"],
                        "event": event, "payload": payload, "status": "pending", "attempts": 0,
                        "next_at": now, "created_at": records.now_text(),
                    },
                )  # fmt: skip
                queued += 1
        if transitions:
            automation.set_cursor(db, CURSOR, transitions[-1]["id"])
    return queued


def delivery_list(project_id: str, *, before: int | None = None, limit: int = 50) -> list[dict]:
    """A project's deliveries, newest first (keyset paged by ``before`` an id)."""
    project_row(project_id)
    rows = automation.list_deliveries(context.db(), project_id, before=before, limit=limit)
    names = {c["id"]: c["name"] for c in automation.list_channels(context.db(), project_id)}
    return [{**row, "channel": names.get(row["channel_id"], "(deleted)")} for row in rows]
