"""Declared API routes: each one is registered on the blueprint AND described for OpenAPI.

``ApiRegistry.route`` is the only way an ``/api/v1`` route is added, so the OpenAPI document
(built from the registry on request) lists exactly the routes in ``app.url_map``; a test
compares the two. Each route names the role it needs, its query parameters, its JSON body and
its success response as JSON Schema (OpenAPI 3.1 dialect). Requests are checked against
those same schemas before the view runs (``validation``), so the document is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Blueprint

from webapp.web.api.validation import validated
from webapp.web.roles import require_role

CONVERTER_RE = re.compile(r"<(?:(?P<converter>[a-z]+):)?(?P<name>\w+)>")
TEXT = {"type": "string"}
ERROR_STATUSES = {
    400: "The request does not fit this document (the parameter or field is named in detail), "
    "or a value it holds cannot be used.",
    401: "No valid bearer token.",
    403: "Your role does not allow this.",
    404: "No such project, task or archive.",
    409: "The request conflicts with the current state (or an ambiguous ID prefix).",
    503: "The database is locked or read-only for a moment; retry after Retry-After seconds.",
}
BODY_TOO_LARGE = "The body is larger than the server's MAX_CONTENT_LENGTH (named in detail)."


def _headers(code: int) -> dict:
    """Headers an error status always carries."""
    if code != 503:
        return {}
    retry = {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
    return {"headers": {"Retry-After": {"description": "Seconds to wait.", **retry}}}


def _errors(op: Operation) -> dict[int, str]:
    statuses = {**ERROR_STATUSES, **({413: BODY_TOO_LARGE} if op.body is not None else {})}
    return dict(sorted({**statuses, **op.errors}.items()))


@dataclass(frozen=True)
class Param:
    """A query parameter."""

    name: str
    schema: dict
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    rule: str
    method: str
    endpoint: str
    summary: str
    role: str
    query: tuple[Param, ...] = ()
    body: dict | None = None
    response: dict = field(default_factory=dict)
    status: int = 200
    path_params: dict[str, dict] = field(default_factory=dict)
    also: dict[int, str] = field(default_factory=dict)
    """Other success statuses (same body schema) and when they are answered."""
    errors: dict[int, str] = field(default_factory=dict)
    """Error statuses of this operation beyond the common ones, and when they are answered."""

    def path_schemas(self) -> dict[str, dict]:
        """Each path parameter's schema: as declared, else what its converter accepts."""
        out = {}
        for match in CONVERTER_RE.finditer(self.rule):
            name, converter = match["name"], match["converter"]
            accepted = {"type": "integer", "minimum": 0} if converter == "int" else TEXT
            out[name] = self.path_params.get(name, accepted)
        return out


class ApiRegistry:
    """Routes of one blueprint, with what OpenAPI needs to know about each."""

    def __init__(self, blueprint: Blueprint):
        self.blueprint = blueprint
        self.operations: list[Operation] = []

    def route(
        self,
        rule: str,
        method: str = "GET",
        *,
        role: str,
        summary: str,
        query: tuple[Param, ...] = (),
        body: dict | None = None,
        response: dict | None = None,
        status: int = 200,
        path_params: dict[str, dict] | None = None,
        also: dict[int, str] | None = None,
        errors: dict[int, str] | None = None,
    ):
        def decorate(view):
            operation = Operation(
                rule,
                method,
                view.__name__,
                summary,
                role,
                tuple(query),
                body,
                response or {},
                status,
                path_params or {},
                also or {},
                errors or {},
            )
            guarded = require_role(role)(validated(operation, view))
            self.blueprint.add_url_rule(rule, view.__name__, guarded, methods=[method])
            self.operations.append(operation)
            return guarded

        return decorate

    def openapi(self, prefix: str, components: dict, *, title: str, version: str) -> dict:
        paths: dict[str, dict] = {}
        for op in self.operations:
            path = prefix + CONVERTER_RE.sub(r"{\g<name>}", op.rule)
            paths.setdefault(path, {})[op.method.lower()] = self._operation(op)
        return {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version},
            "paths": paths,
            "components": {
                "schemas": components,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"bearer": []}],
        }

    @staticmethod
    def _operation(op: Operation) -> dict:
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": schema}
            for name, schema in op.path_schemas().items()
        ]
        for param in op.query:
            parameters.append(
                {
                    "name": param.name,
                    "in": "query",
                    "required": param.required,
                    "schema": param.schema,
                    "description": param.description,
                }
            )
        error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        success = {"application/json": {"schema": op.response}}
        responses = {
            str(op.status): {"description": "Success.", "content": success},
            **{
                str(code): {"description": text, "content": success}
                for code, text in op.also.items()
            },
            **{
                str(code): {"description": text, "content": error_ref, **_headers(code)}
                for code, text in _errors(op).items()
            },
        }
        operation = {
            "operationId": op.endpoint,
            "summary": op.summary,
            "description": f"Needs the {op.role} role (or above).",
            "parameters": parameters,
            "responses": responses,
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": op.body}},
            }
        return operation
