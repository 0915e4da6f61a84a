"""JSON Schemas of the API's bodies and responses (``components.schemas`` of the document).

Response schemas list the fields clients rely on and allow more, so the read models can grow
without breaking the document; request schemas are closed (unknown fields get a 400).
"""

from __future__ import annotations

import namer

from webapp import limits
from webapp.engine import TASK_TYPES as ENGINE_TASK_TYPES
from webapp.orchestration.status import GRAPH_STATUSES, UI_STATUSES

MAX_OFFSET = 10**9
NUL = "\\x00"
BLANK = "^\\s*$"
# What orchestration's name rules accept (naming.clean_task_name): after leading blanks and
# signs that are dropped, a letter, digit or "_" comes before any space or hyphen.
TASK_NAME_PATTERN = "^\\s*[^A-Za-z0-9_\\s\\x00\\x1c-\\x1f-]*[A-Za-z0-9_]"
# A full task ID or a unique prefix (orchestration.identity), any case, I/L/O read as 1/1/0.
TASK_ID_PATTERN = "^[ghjkmnp-tv-zGHJKMNP-TV-Z](?:[0-9iIlLoO][0-9a-tv-zA-TV-Z]{0,3})?$"
ENV_NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"
GIT_REPO_PATTERN = "^(?:[^\\s\\x00\\x1c-\\x1f-][^\\s\\x00\\x1c-\\x1f]*)?$"
ARCHIVE_REF = {
    "type": "string",
    "pattern": "^[A-Za-z0-9_.-]{1,200}$",
    "description": "an archive ID (or the start of one) or a task ID prefix",
}


def text(
    max_length: int,
    *,
    min_length: int = 0,
    pattern: str | None = None,
    blank: bool = True,
    description: str = "text without NUL characters",
) -> dict:
    """A string the server takes as it is: no NUL characters (nor blank, with ``blank=False``),
    within the length limits, matching ``pattern`` if given. ``description`` completes
    "must be ..." in the 400 that a mismatch gets. (NUL and blank are refused with ``not``:
    generators handle that far faster than a pattern spanning the whole string.)"""
    refused = {"pattern": NUL} if blank else {"anyOf": [{"pattern": NUL}, {"pattern": BLANK}]}
    schema = {
        "type": "string",
        "maxLength": max_length,
        "not": refused,
        "description": description,
    }
    if pattern is not None:
        schema["pattern"] = pattern
    if min_length:
        schema["minLength"] = min_length
    return schema


def nullable_text(max_length: int, **shape) -> dict:
    return {**text(max_length, **shape), "type": ["string", "null"]}


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
NOT_BLANK = "text that is not blank (nor holds NUL characters)"
PAYLOAD = text(limits.PAYLOAD_MAX_CHARS, blank=False, description=NOT_BLANK)
TASK_NAME = text(
    limits.TASK_NAME_MAX_CHARS,
    pattern=TASK_NAME_PATTERN,
    description="a name with a letter, digit or '_' before any space or hyphen (it becomes "
    "a slug of a-z, 0-9, '_' and '-')",
)
DESCRIPTION = text(limits.DESCRIPTION_MAX_CHARS)
TIMEOUT = {
    "type": ["number", "null"],
    "exclusiveMinimum": 0,
    "maximum": limits.TIMEOUT_MAX_SECONDS,
}
GRAPH_KEY = text(limits.GRAPH_KEY_MAX_CHARS, blank=False, description=NOT_BLANK)
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
            "status": {"enum": list(GRAPH_STATUSES)},
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
        workflow_id=nullable("string"),
        workflow_version=nullable("integer"),
        usage=ref("UsageTotals"),
    ),
    "Workflow": obj(
        {"project_id": TEXT, "workflow_id": TEXT, "name": TEXT, "latest_version": INT},
        created_at=TEXT,
        created_by=nullable("string"),
        updated_at=TEXT,
        definition={"type": "object"},
        yaml=TEXT,
        versions={"type": "array", "items": {"type": "object"}},
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

TASK_ID = {
    "type": "string",
    "pattern": TASK_ID_PATTERN,
    "description": "a task ID or a unique prefix of one: 1-5 Crockford base32 characters "
    "(e.g. 'k3v8h' or 'k3')",
}
TASK_STATUS = {"enum": list(UI_STATUSES)}
MOMENT = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
    "description": "a date like 2025-01-31 or an RFC 3339 date-time like 2025-01-31T12:00:00Z",
}
PROJECT_FIELDS = {
    "name": {
        **nullable_text(limits.PROJECT_NAME_MAX_CHARS),
        "description": "Blank or null: the project's ID.",
    },
    "shutdown_grace": {
        "type": "number",
        "minimum": 0,
        "maximum": limits.PROJECT_GRACE_MAX_SECONDS,
    },
    "max_concurrent": {
        "type": ["integer", "null"],
        "minimum": 1,
        "maximum": limits.PROJECT_MAX_CONCURRENT,
    },
    "name_categories": {
        "type": ["array", "null"],
        "items": {"enum": list(namer.list_categories())},
        "maxItems": 100,
    },
    "git_repo": nullable_text(
        2000,
        pattern=GIT_REPO_PATTERN,
        description="a URL or path without spaces, not starting with '-'",
    ),
    "env": {
        "type": ["object", "null"],
        "propertyNames": {
            "pattern": ENV_NAME_PATTERN,
            "maxLength": 200,
            "description": "environment variable names: letters, digits and '_', not starting "
            "with a digit",
        },
        "additionalProperties": text(10000),
        "maxProperties": 200,
    },
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
    "required": ["payload"],
    "description": "One task of a workflow ('id' is accepted for 'key'); a task with "
    "required: false must be a finally task.",
    "properties": {
        "key": GRAPH_KEY,
        "id": GRAPH_KEY,
        "payload": PAYLOAD,
        "type": {"enum": TASK_TYPES},
        "name": {**TASK_NAME, "type": ["string", "null"]},
        "description": DESCRIPTION,
        "timeout": TIMEOUT,
        "after": {
            "type": "array",
            "items": text(limits.GRAPH_KEY_MAX_CHARS),
            "maxItems": limits.GRAPH_MAX_TASKS,
        },
        "finally": BOOL,
        "required": BOOL,
    },
    "additionalProperties": False,
    "oneOf": [{"required": ["key"]}, {"required": ["id"]}],
    "if": {"properties": {"required": {"const": False}}, "required": ["required"]},
    "then": {"properties": {"finally": {"const": True}}, "required": ["finally"]},
}
GRAPH_CREATE = {
    "type": "object",
    "required": ["tasks"],
    "properties": {
        "title": text(limits.GRAPH_TITLE_MAX_CHARS),
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
WORKFLOW_SAVE = {
    "type": "object",
    "required": ["definition"],
    "properties": {
        "name": text(limits.GRAPH_TITLE_MAX_CHARS),
        "definition": {
            "description": "The definition as an object, or its JSON or YAML text.",
            "oneOf": [GRAPH_CREATE, text(limits.GRAPH_DEFINITION_MAX_CHARS)],
        },
    },
    "additionalProperties": False,
}
RERUN = {"type": "object", "required": ["task"], "additionalProperties": False,
         "properties": {"task": {"type": "string", "maxLength": 64}}}  # fmt: skip
TASK_LLM_LIMITS_UPDATE = {
    **LLM_LIMITS_UPDATE,
    "properties": {**LLM_LIMITS_UPDATE["properties"], "prices": {"type": "null"}},
}
