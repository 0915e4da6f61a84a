"""Upstream context in workflows: a prompt or agent member's payload may quote its direct
upstream tasks, ``{{ upstream.build.output }}`` (also ``.error`` and ``.status``).

Payloads are Jinja templates rendered in a sandbox (no attribute tricks, no imports) with
StrictUndefined, only when they mention ``upstream``. A definition that refers to a key
that is not one of the member's ``after`` tasks is refused when the workflow is created.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from webapp.orchestration.errors import InvalidTaskRequest
from webapp.orchestration.status import derive_status

NAME = "upstream"
FIELDS = ("output", "error", "status")
TEMPLATED_TYPES = ("prompt", "agent")

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def uses_upstream(payload: str) -> bool:
    return NAME in payload


def _references(template: nodes.Template) -> Iterable[tuple[str, str | None]]:
    """(key, field) for each ``upstream.key[.field]`` / ``upstream["key"]`` in the template."""
    for node in template.find_all((nodes.Getattr, nodes.Getitem)):
        base = node.node
        if not (isinstance(base, nodes.Name) and base.name == NAME):
            continue
        if isinstance(node, nodes.Getattr):
            key = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            key = node.arg.value
        else:
            continue
        yield key, None


def check_payload(key: str, kind: str, payload: str, after: Iterable[str]) -> None:
    """Refuse a member payload that cannot render: bad syntax, or a key not upstream."""
    if kind not in TEMPLATED_TYPES or not uses_upstream(payload):
        return
    try:
        parsed = _env.parse(payload)
    except TemplateSyntaxError as exc:
        raise InvalidTaskRequest(
            f"Task {key!r}: its payload is not a valid template (line {exc.lineno}: {exc.message})"
        ) from None
    allowed = list(after)
    for name, _field in _references(parsed):
        if name not in allowed:
            upstream = ", ".join(allowed) or "none"
            raise InvalidTaskRequest(
                f"Task {key!r}: {{{{ upstream.{name} }}}} is not a direct upstream task "
                f"(its 'after' lists: {upstream})"
            )


def check_definition(tasks: Iterable[Mapping[str, Any]]) -> None:
    for spec in tasks:
        payload = spec.get("payload")
        if isinstance(payload, str):
            check_payload(spec["key"], str(spec.get("type", "bash")), payload,
                          spec.get("after", []))  # fmt: skip


def context_of(task: Any) -> dict[str, Any]:
    """What a template sees of one upstream engine task."""
    result = task.result
    return {
        "output": (result.output if result is not None else "") or "",
        "error": task.error or (result.error if result is not None else None) or "",
        "status": derive_status(task.status.value),
    }


def render(payload: str, upstream: Mapping[str, Any]) -> str:
    """``payload`` rendered with ``upstream`` (key -> engine task); a clear error otherwise."""
    values = {key: context_of(task) for key, task in upstream.items()}
    try:
        return _env.from_string(payload).render(upstream=values)
    except (UndefinedError, SecurityError, TemplateSyntaxError) as exc:
        raise ValueError(f"cannot fill in the upstream context: {exc}") from None
