"""JSON Schemas of the API's bodies and responses (``components.schemas`` of the document).

Response schemas list the fields clients rely on and allow more, so the read models can grow
without breaking the document; request schemas are closed (unknown fields get a 400).
"""

from __future__ import annotations

from webapp import limits
from webapp.engine import TASK_TYPES as ENGINE_TASK_TYPES


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str) -> dict:
    return {"type": [kind, "null"]}


def obj(required: dict[str, dict], **optional: dict) -> dict:
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **optional},
    }


def list_of(name: str) -> dict:
    return {"type": "array", "items": ref(name)}


TEXT = {"type": "string"}
INT = {"type": "integer"}
NUMBER = {"type": "number"}
BOOL = {"type": "boolean"}
PROJECT_ID = {
    "type": "string",
    "pattern": f"^[a-z0-9][a-z0-9_-]{{0,{limits.PROJECT_ID_MAX_CHARS - 1}}}$",
}
TASK_TYPES = list(ENGINE_TASK_TYPES)
PAYLOAD = {"type": "string", "minLength": 1, "maxLength": limits.PAYLOAD_MAX_CHARS}
TASK_NAME = {"type": "string", "maxLength": limits.TASK_NAME_MAX_CHARS}
DESCRIPTION = {"type": "string", "maxLength": limits.DESCRIPTION_MAX_CHARS}
TIMEOUT = {
    "type": ["number", "null"],
    "exclusiveMinimum": 0,
    "maximum": limits.TIMEOUT_MAX_SECONDS,
}
GRAPH_KEY = {"type": "string", "minLength": 1, "maxLength": limits.GRAPH_KEY_MAX_CHARS}
ROLES = ["viewer", "operator", "admin"]

COMPONENTS: dict[str, dict] = {
    "Error": obj({"error": TEXT, "detail": TEXT}, matches={"type": "array", "items": TEXT}),
    "Me": obj({"username": TEXT, "role": {"enum": ROLES}}),
    "Project": obj(
        {"id": TEXT, "name": TEXT, "version": INT, "counts": {"type": "object"}},
        shutdown_grace=NUMBER,
        max_concurrent=nullable("integer"),
        name_categories={"type": ["array", "null"], "items": TEXT},
        git_repo=nullable("string"),
        env={"type": "object"},
    ),
    "Task": obj(
        {"project_id": TEXT, "task_id": TEXT, "name": TEXT, "type": TEXT, "status": TEXT},
        payload=TEXT,
        description=TEXT,
        exit_code=nullable("integer"),
        created_at=TEXT,
        started_at=nullable("string"),
        finished_at=nullable("string"),
        duration=nullable("number"),
        run_no=INT,
        version=INT,
        can_stop=BOOL,
        can_retry=BOOL,
        status_reason=nullable("string"),
        usage={"anyOf": [ref("RunUsage"), {"type": "null"}]},
    ),
    "RunUsage": obj(
        {
            "model": nullable("string"),
            "prompt_tokens": nullable("integer"),
            "completion_tokens": nullable("integer"),
            "first_token_s": nullable("number"),
            "latency_s": nullable("number"),
            "cost": nullable("number"),
            "estimated": BOOL,
        }
    ),
    "UsageTotals": obj(
        {
            "runs": INT,
            "prompt_tokens": INT,
            "completion_tokens": INT,
            "cost": nullable("number"),
            "latency_s": NUMBER,
        }
    ),
    "LLMLimits": obj(
        {
            "budget_tokens": nullable("integer"),
            "budget_cost": nullable("number"),
            "prices": {"anyOf": [ref("Prices"), {"type": "null"}]},
        },
        usage=ref("UsageTotals"),
    ),
    "Prices": {
        "type": "object",
        "description": "USD per million tokens, per model.",
        "additionalProperties": {
            "type": "object",
            "properties": {
                "prompt": {"type": "number", "minimum": 0},
                "completion": {"type": "number", "minimum": 0},
            },
            "additionalProperties": False,
        },
    },
    "TaskPage": obj(
        {"items": list_of("Task"), "total": INT, "limit": INT, "offset": INT, "has_next": BOOL}
    ),
    "TaskDeleted": obj(
        {"task_id": TEXT, "warnings": {"type": "array", "items": TEXT}},
        archive_id=nullable("string"),
        status={"enum": ["deleted", "deleting"]},
    ),
    "Transition": obj({"at": TEXT, "actor": TEXT, "to_status": TEXT}),
    "LogChunk": obj(
        {"offset": INT, "next_offset": INT, "size": INT, "segments": {"type": "array"}},
        text=TEXT,
    ),
    "ArchivedTask": obj({"archive_id": TEXT, "task_id": TEXT, "archived_at": TEXT}),
    "Graph": obj(
        {
            "project_id": TEXT,
            "graph_id": TEXT,
            "title": TEXT,
            "status": {"enum": ["queued", "running", "completed", "failed", "cancelled"]},
            "version": INT,
        },
        created_at=TEXT,
        created_by=nullable("string"),
        started_at=nullable("string"),
        finished_at=nullable("string"),
        cancel_requested_by=nullable("string"),
        note=nullable("string"),
        attempts=INT,
        is_terminal=BOOL,
        members=list_of("Task"),
        order={"type": "array", "items": TEXT},
        dependencies={"type": "object", "additionalProperties": {"type": "array", "items": TEXT}},
        blocked_by={"type": "object", "additionalProperties": {"type": "array", "items": TEXT}},
        finally_tasks={"type": "array", "items": TEXT},
        optional_tasks={"type": "array", "items": TEXT},
        counts={"type": "object", "additionalProperties": INT},
        usage=ref("UsageTotals"),
    ),
    "AuditEntry": obj(
        {
            "id": INT,
            "at": TEXT,
            "actor": TEXT,
            "action": TEXT,
            "target": TEXT,
            "detail": TEXT,
            "address": TEXT,
        }
    ),
    "AuditPage": obj(
        {
            "items": list_of("AuditEntry"),
            "total": INT,
            "limit": INT,
            "offset": INT,
            "has_next": BOOL,
        }
    ),
    "ProjectDeletePlan": obj(
        {
            "project_id": TEXT,
            "tasks": INT,
            "graphs": INT,
            "active_tasks": {"type": "array", "items": TEXT},
            "active_graphs": {"type": "array", "items": TEXT},
            "blocked": nullable("string"),
        }
    ),
    "ProjectDeleted": obj(
        {"project_id": TEXT, "archived": INT, "warnings": {"type": "array", "items": TEXT}}
    ),
}

PROJECT_FIELDS = {
    "name": {"type": "string", "maxLength": limits.PROJECT_NAME_MAX_CHARS},
    "shutdown_grace": {"type": "number", "minimum": 0, "maximum": limits.PROJECT_GRACE_MAX_SECONDS},
    "max_concurrent": {
        "type": ["integer", "null"],
        "minimum": 1,
        "maximum": limits.PROJECT_MAX_CONCURRENT,
    },
    "name_categories": {"type": ["array", "null"], "items": TEXT, "maxItems": 100},
    "git_repo": {"type": ["string", "null"], "maxLength": 2000},
    "env": {"type": "object", "additionalProperties": TEXT, "maxProperties": 200},
}
PROJECT_CREATE = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": PROJECT_ID, **PROJECT_FIELDS},
    "additionalProperties": False,
}
PROJECT_UPDATE = {"type": "object", "properties": PROJECT_FIELDS, "additionalProperties": False}
TASK_CREATE = {
    "type": "object",
    "required": ["payload"],
    "properties": {
        "payload": PAYLOAD,
        "type": {"enum": TASK_TYPES},
        "name": TASK_NAME,
        "description": DESCRIPTION,
        "timeout": TIMEOUT,
    },
    "additionalProperties": False,
}
TASK_RENAME = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": TASK_NAME},
    "additionalProperties": False,
}
GRAPH_TASK = {
    "type": "object",
    "required": ["key", "payload"],
    "description": "One task of a workflow ('id' is accepted for 'key').",
    "properties": {
        "key": GRAPH_KEY,
        "payload": PAYLOAD,
        "type": {"enum": TASK_TYPES},
        "name": {**TASK_NAME, "type": ["string", "null"]},
        "description": DESCRIPTION,
        "timeout": TIMEOUT,
        "after": {"type": "array", "items": GRAPH_KEY},
        "finally": BOOL,
        "required": BOOL,
    },
    "additionalProperties": False,
}
GRAPH_CREATE = {
    "type": "object",
    "required": ["tasks"],
    "properties": {
        "title": {"type": "string", "maxLength": limits.GRAPH_TITLE_MAX_CHARS},
        "tasks": {
            "type": "array",
            "minItems": 1,
            "maxItems": limits.GRAPH_MAX_TASKS,
            "items": GRAPH_TASK,
        },
    },
    "additionalProperties": False,
}

LLM_LIMITS_UPDATE = {
    "type": "object",
    "properties": {
        "budget_tokens": {"type": ["integer", "null"], "minimum": 1, "maximum": 10**12},
        "budget_cost": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 10**9},
        "prices": {"anyOf": [ref("Prices"), {"type": "null"}]},
    },
    "additionalProperties": False,
}
