"""API: a project's schedules, notification channels and deliveries.

Channel targets (webhook URLs) are write-only: responses carry ``target_hint`` only.
"""

from __future__ import annotations

from flask import abort
from flask_login import current_user

from webapp import limits
from webapp.orchestration import notifications, schedules
from webapp.web.api import api
from webapp.web.api.inputs import Body, query_int, to_json
from webapp.web.api.registry import Param
from webapp.web.api.schemas import COMPONENTS, PROJECT_ID, TASK_TYPES, list_of, obj, ref
from webapp.web.auditing import record_audit

NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": limits.SCHEDULE_NAME_MAX_CHARS,
    "pattern": "^[^/\\x00-\\x1f]+$",
}
TIMESTAMP = {"type": ["number", "null"]}
SCHEDULE_FIELDS = {
    "name": NAME,
    "cron": {"type": ["string", "null"], "maxLength": 200},
    "every": {"type": ["number", "null"], "minimum": schedules.MIN_INTERVAL,
              "maximum": schedules.MAX_INTERVAL},
    "timezone": {"type": "string", "minLength": 1, "maxLength": 64},
    "enabled": {"type": "boolean"},
    "overlap": {"enum": list(schedules.OVERLAP_POLICIES)},
    "misfire": {"enum": list(schedules.MISFIRE_POLICIES)},
    "task_name": {"type": ["string", "null"], "maxLength": limits.TASK_NAME_MAX_CHARS},
    "task_type": {"enum": TASK_TYPES},
    "payload": {"type": "string", "minLength": 1, "maxLength": limits.PAYLOAD_MAX_CHARS},
    "description": {"type": "string", "maxLength": limits.DESCRIPTION_MAX_CHARS},
    "timeout": {"type": ["number", "null"], "exclusiveMinimum": 0,
                "maximum": limits.TIMEOUT_MAX_SECONDS},
}  # fmt: skip
CHANNEL_CREATE = {
    "type": "object",
    "required": ["name", "kind", "target"],
    "properties": {
        "name": NAME,
        "kind": {"enum": list(notifications.CHANNEL_KINDS)},
        "target": {"type": "string", "minLength": 1, "maxLength": limits.CHANNEL_TARGET_MAX_CHARS},
        "events": {
            "type": "array",
            "minItems": 1,
            "maxItems": 10,
            "items": {"enum": list(notifications.EVENTS)},
        },
    },
    "additionalProperties": False,
}
COMPONENTS.update(
    {
        "Schedule": obj(
            {
                "id": {"type": "string"},
                "project_id": {"type": "string"},
                "name": NAME,
                "kind": {"enum": ["cron", "interval"]},
                "timezone": {"type": "string"},
                "enabled": {"type": "boolean"},
                "overlap": SCHEDULE_FIELDS["overlap"],
                "misfire": SCHEDULE_FIELDS["misfire"],
                "task_type": {"enum": TASK_TYPES},
                "payload": {"type": "string"},
                "next_runs": {"type": "array", "items": {"type": "string", "format": "date-time"}},
            },
            cron={"type": ["string", "null"]},
            interval_seconds=TIMESTAMP,
            task_name={"type": ["string", "null"]},
            description={"type": "string"},
            timeout=TIMESTAMP,
            next_at=TIMESTAMP,
            last_slot=TIMESTAMP,
            last_task_id={"type": ["string", "null"]},
            created_at={"type": "string"},
            created_by={"type": ["string", "null"]},
            version={"type": "integer"},
        ),  # fmt: skip
        "Channel": obj(
            {
                "id": {"type": "string"},
                "project_id": {"type": "string"},
                "name": NAME,
                "kind": CHANNEL_CREATE["properties"]["kind"],
                "target_hint": {"type": "string"},
                "events": {"type": "array", "items": {"enum": list(notifications.EVENTS)}},
                "enabled": {"type": "boolean"},
            },
            created_at={"type": "string"},
            created_by={"type": ["string", "null"]},
        ),  # fmt: skip
        "Delivery": obj(
            {
                "id": {"type": "integer"},
                "channel": {"type": "string"},
                "event": {"enum": list(notifications.EVENTS)},
                "status": {"enum": ["pending", "delivered", "failed"]},
                "attempts": {"type": "integer"},
            },
            task_id={"type": ["string", "null"]},
            run_no={"type": ["integer", "null"]},
            last_error={"type": ["string", "null"]},
            created_at={"type": "string"},
            delivered_at={"type": ["string", "null"]},
        ),  # fmt: skip
    }
)
PROJECT = {"project": PROJECT_ID}
SCHEDULE_PATH = {"project": PROJECT_ID, "schedule": NAME}
CHANNEL_PATH = {"project": PROJECT_ID, "channel": NAME}


def schedule_json(schedule: schedules.Schedule) -> dict:
    out = to_json(schedule)
    out["next_runs"] = [t.isoformat() for t in schedule.next_times(5)] if schedule.enabled else []
    return out


def _schedule_fields(body: Body) -> dict:
    """The schedule fields present in the body, type-checked (orchestration checks values)."""
    readers = {
        "name": lambda: body.text("name", max_length=limits.SCHEDULE_NAME_MAX_CHARS),
        "cron": lambda: body.text("cron", max_length=200),
        "every": lambda: body.number("every", minimum=schedules.MIN_INTERVAL,
                                     maximum=schedules.MAX_INTERVAL),
        "timezone": lambda: body.text("timezone", max_length=64),
        "overlap": lambda: body.text("overlap", max_length=20),
        "misfire": lambda: body.text("misfire", max_length=20),
        "task_name": lambda: body.text("task_name", max_length=limits.TASK_NAME_MAX_CHARS),
        "task_type": lambda: body.text("task_type", max_length=20),
        "payload": lambda: body.text("payload", max_length=limits.PAYLOAD_MAX_CHARS),
        "description": lambda: body.text("description", max_length=limits.DESCRIPTION_MAX_CHARS),
        "timeout": lambda: body.number("timeout", maximum=limits.TIMEOUT_MAX_SECONDS),
    }  # fmt: skip
    fields = {name: read() for name, read in readers.items() if body.has(name)}
    if body.has("enabled"):
        if not isinstance(body.data["enabled"], bool):
            abort(400, "field 'enabled' must be true or false")
        fields["enabled"] = body.data["enabled"]
    return fields


@api.route(
    "/projects/<project>/schedules",
    role="viewer",
    summary="A project's schedules with their next runs.",
    response=list_of("Schedule"),
    path_params=PROJECT,
)
def list_schedules(project: str):
    return [schedule_json(s) for s in schedules.schedule_list(project)]


@api.route(
    "/projects/<project>/schedules",
    "POST",
    role="operator",
    summary="Create a schedule (a cron line or an interval in seconds, and a task definition).",
    body={"type": "object", "required": ["name", "payload"], "properties": SCHEDULE_FIELDS,
          "additionalProperties": False},
    response=ref("Schedule"),
    status=201,
    path_params=PROJECT,
    errors={422: "The body fits the schema but a field does not make sense (a cron field out "
            "of range, an unknown time zone): `field` names it."},
)  # fmt: skip
def create_schedule(project: str):
    fields = _schedule_fields(Body(tuple(SCHEDULE_FIELDS)))
    created = schedules.schedule_create(project, actor=current_user.username, **fields)
    record_audit("schedule.create", f"{project}/{created.name}", created.every)
    return schedule_json(created), 201


@api.route(
    "/projects/<project>/schedules/<schedule>",
    role="viewer",
    summary="One schedule (by name or ID).",
    response=ref("Schedule"),
    path_params=SCHEDULE_PATH,
)
def get_schedule(project: str, schedule: str):
    return schedule_json(schedules.schedule_get(project, schedule))


@api.route(
    "/projects/<project>/schedules/<schedule>",
    "PATCH",
    role="operator",
    summary="Change a schedule; `enabled: false` pauses it.",
    errors={
        422: "The body fits the schema but a field does not make sense (a cron field out "
        "of range, an unknown time zone): `field` names it."
    },
    body={"type": "object", "properties": SCHEDULE_FIELDS, "additionalProperties": False},
    response=ref("Schedule"),
    path_params=SCHEDULE_PATH,
)
def update_schedule(project: str, schedule: str):
    fields = _schedule_fields(Body(tuple(SCHEDULE_FIELDS)))
    changed = schedules.schedule_update(project, schedule, actor=current_user.username, **fields)
    record_audit("schedule.update", f"{project}/{changed.name}", ", ".join(sorted(fields)))
    return schedule_json(changed)


@api.route(
    "/projects/<project>/schedules/<schedule>",
    "DELETE",
    role="admin",
    summary="Delete a schedule (the tasks it started stay).",
    response=ref("Schedule"),
    path_params=SCHEDULE_PATH,
)
def delete_schedule(project: str, schedule: str):
    deleted = schedules.schedule_delete(project, schedule)
    record_audit("schedule.delete", f"{project}/{deleted.name}")
    return {**schedule_json(deleted), "next_runs": []}


@api.route(
    "/projects/<project>/notifications",
    role="viewer",
    summary="A project's notification channels (targets are write-only: a hint is shown).",
    response=list_of("Channel"),
    path_params=PROJECT,
)
def list_channels(project: str):
    return [to_json(c) for c in notifications.channel_list(project)]


@api.route(
    "/projects/<project>/notifications",
    "POST",
    role="admin",
    summary="Add a notification channel: a webhook (generic, slack, teams) or e-mail.",
    body=CHANNEL_CREATE,
    response=ref("Channel"),
    status=201,
    path_params=PROJECT,
    errors={
        422: "The body fits the schema but a field does not make sense (a target that is "
        "no http(s) URL or e-mail address, a name taken): `field` names it."
    },
)
def create_channel(project: str):
    body = Body(tuple(CHANNEL_CREATE["properties"]))
    events = body.strings("events", max_items=10, max_length=20)
    channel = notifications.channel_create(
        project,
        name=body.text("name", required=True, max_length=limits.CHANNEL_NAME_MAX_CHARS) or "",
        kind=body.text("kind", required=True, max_length=20) or "",
        target=body.text("target", required=True, max_length=limits.CHANNEL_TARGET_MAX_CHARS) or "",
        events=events if events is not None else notifications.DEFAULT_EVENTS,
        actor=current_user.username,
    )  # fmt: skip
    record_audit("notification.create", f"{project}/{channel.name}",
                 f"{channel.kind} to {channel.target_hint}")  # fmt: skip
    return to_json(channel), 201


@api.route(
    "/projects/<project>/notifications/<channel>",
    "DELETE",
    role="admin",
    summary="Remove a notification channel.",
    response=ref("Channel"),
    path_params=CHANNEL_PATH,
)
def delete_channel(project: str, channel: str):
    deleted = notifications.channel_delete(project, channel)
    record_audit("notification.delete", f"{project}/{deleted.name}")
    return to_json(deleted)


@api.route(
    "/projects/<project>/deliveries",
    role="viewer",
    summary="Notifications sent or being retried, newest first (keyset pages: `before` an id).",
    query=(
        Param(
            "before",
            {"type": "integer", "minimum": 1, "maximum": 2**53},
            "Only deliveries with a smaller id (the last id of the previous page).",
        ),
        Param("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Page size (50)."),
    ),  # fmt: skip
    response=list_of("Delivery"),
    path_params=PROJECT,
)
def list_deliveries(project: str):
    rows = notifications.delivery_list(
        project,
        before=query_int("before", None, minimum=1),
        limit=query_int("limit", 50, minimum=1, maximum=500),
    )
    keep = ("id", "channel", "event", "status", "attempts", "task_id", "run_no", "last_error",
            "created_at", "delivered_at")  # fmt: skip
    return [{key: row[key] for key in keep} for row in rows]
