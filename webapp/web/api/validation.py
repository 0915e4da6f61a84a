"""Requests checked against the very schemas the OpenAPI document publishes.

``validated(operation, view)`` wraps an API view: path parameters, query parameters and the
JSON body are checked against the operation's schemas (JSON Schema 2020-12, formats included)
before the view runs, so the document can never be looser than the server, and every
mismatch is a 400 naming the parameter or field. Query values arrive as text and are read
as the type their schema names (integer, number, boolean) first.
"""

from __future__ import annotations

import functools
import json
import re

import jsonschema_rs
from flask import abort, request

INTEGER_RE = re.compile(r"-?[0-9]{1,20}")
NUMBER_RE = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?")
BOOLEANS = {"true": True, "false": False}
MAX_PROBLEMS = 5
SHAPE_KINDS = {"Pattern", "AnyOf", "OneOfNotValid", "Format", "Const", "PropertyNames", "Not"}


@functools.cache
def _compiled(schema_json: str):
    return jsonschema_rs.validator_for(json.loads(schema_json), validate_formats=True)


def validator(schema: dict):
    """The compiled validator of a schema (compiled once per distinct schema); its
    ``#/components/schemas/...`` references resolve as in the published document."""
    from webapp.web.api.schemas import COMPONENTS

    document = {**schema, "components": {"schemas": COMPONENTS}}
    return _compiled(json.dumps(document, sort_keys=True))


TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a JSON object",
    "array": "a list",
    "null": "null",
}


def _where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _subschema(schema: dict, path) -> dict:
    """The schema holding the keyword that failed (``path`` ends with that keyword)."""
    node = schema
    for part in list(path)[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return {}
    return node if isinstance(node, dict) else {}


def describe(error, subject: str, schema: dict) -> str:
    """One problem in words, naming the field (``subject`` names the whole value)."""
    where = _where(error.instance_path)
    named = f"field {where!r}" if where else subject
    kind = error.kind
    kind_name = type(kind).__name__
    expected = _subschema(schema, error.schema_path).get("description")
    if expected and kind_name in SHAPE_KINDS:
        return f"{named} must be {expected}"
    if kind_name == "Required":
        missing = getattr(kind, "property", None)
        field = f"{where}.{missing}" if where else missing
        return f"field {field!r} is required" if missing else error.message
    if kind_name == "AdditionalProperties":
        unexpected = ", ".join(repr(name) for name in getattr(kind, "unexpected", []))
        return f"unknown field(s) {unexpected}" + (f" in {where!r}" if where else "")
    if kind_name == "Type":
        types = sorted(getattr(kind, "types", None) or [], key=lambda name: name == "null")
        words = [TYPE_WORDS.get(str(name), str(name)) for name in types]
        if words:
            return f"{named} must be {' or '.join(words)}"
    if kind_name == "Enum":
        options = ", ".join(json.dumps(option) for option in getattr(kind, "options", []))
        last = next((part for part in reversed(error.instance_path) if isinstance(part, str)), "")
        unknown = f"unknown {last} {error.instance!r}: " if last else ""
        return f"{unknown}{named} must be one of {options}"
    return f"{named}: {error.message}"


def problems(schema: dict, value, subject: str = "the body") -> list[str]:
    """What is wrong with ``value`` under ``schema``, one line per problem (at most five)."""
    found = []
    try:
        for error in validator(schema).iter_errors(value):
            found.append(describe(error, subject, schema))
            if len(found) == MAX_PROBLEMS:
                break
    except UnicodeEncodeError:
        return [f"{subject} must be valid Unicode text (no lone surrogates)"]
    return found


def _typed(raw: str, schema: dict, name: str):
    kind = schema.get("type")
    if kind == "integer":
        if not INTEGER_RE.fullmatch(raw):
            abort(400, f"query parameter {name!r} must be a whole number, not {raw[:40]!r}")
        return int(raw)
    if kind == "number":
        if not NUMBER_RE.fullmatch(raw):
            abort(400, f"query parameter {name!r} must be a number, not {raw[:40]!r}")
        return float(raw)
    if kind == "boolean":
        if raw not in BOOLEANS:
            abort(400, f"query parameter {name!r} must be true or false, not {raw[:40]!r}")
        return BOOLEANS[raw]
    return raw


def check_path(schemas: dict[str, dict], values: dict) -> None:
    for name, schema in schemas.items():
        if name in values:
            found = problems(schema, values[name], f"path parameter {name!r}")
            if found:
                abort(400, "; ".join(found))


def check_query(params) -> None:
    for param in params:
        raw = request.args.get(param.name)
        if raw is None:
            if param.required:
                abort(400, f"query parameter {param.name!r} is required")
            continue
        value = _typed(raw, param.schema, param.name)
        found = problems(param.schema, value, f"query parameter {param.name!r}")
        if found:
            abort(400, "; ".join(found))


def check_body(schema: dict) -> None:
    if not request.is_json:
        abort(400, "send a JSON object as the body, with Content-Type: application/json")
    data = request.get_json()  # malformed or too deeply nested: 400 from Flask
    found = problems(schema, data)
    if found:
        abort(400, "; ".join(found))


def validated(operation, view):
    """``view`` behind the checks of ``operation`` (a registry ``Operation``)."""

    @functools.wraps(view)
    def checked(**values):
        check_path(operation.path_schemas(), values)
        check_query(operation.query)
        if operation.body is not None:
            check_body(operation.body)
        return view(**values)

    return checked
