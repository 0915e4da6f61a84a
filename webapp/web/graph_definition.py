"""Reading a workflow definition from a form's JSON text or an API body, with every problem
named by where it is (``tasks[2] "test" → after``) and what is wrong with it.

A definition is ``{"title": ..., "tasks": [{"key": ..., "payload": ..., "after": [...]}]}``
(``id`` is accepted for ``key``; a bare list of tasks is accepted too). The checked result
is what ``orchestration.graph_new`` takes; orchestration checks it again, so nothing here is
the only guard. No Flask in this module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webapp.engine import TASK_TYPES
from webapp.limits import DESCRIPTION_MAX_CHARS as MAX_DESCRIPTION_CHARS
from webapp.limits import GRAPH_KEY_MAX_CHARS as MAX_KEY_CHARS
from webapp.limits import GRAPH_MAX_TASKS as MAX_TASKS
from webapp.limits import GRAPH_TITLE_MAX_CHARS as MAX_TITLE_CHARS
from webapp.limits import PAYLOAD_MAX_CHARS as MAX_PAYLOAD_CHARS
from webapp.limits import TASK_NAME_MAX_CHARS as MAX_NAME_CHARS
from webapp.limits import TIMEOUT_MAX_SECONDS as MAX_TIMEOUT
from webapp.orchestration.naming import clean_task_name

MAX_PROBLEMS = 20
TASK_FIELDS = (
    "key", "id", "payload", "type", "name", "description", "timeout", "after", "finally",
    "required",
)  # fmt: skip
TOP_FIELDS = ("title", "tasks")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition: ``where`` it is and ``message`` saying what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class DefinitionInvalid(ValueError):
    """A definition that cannot be used; ``problems`` lists each thing wrong with it."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems[:MAX_PROBLEMS]
        more = len(problems) - len(self.problems)
        text = "; ".join(str(p) for p in self.problems)
        super().__init__(text + (f"; and {more} more" if more > 0 else ""))


def parse_text(text: str) -> Any:
    """The JSON value in ``text``; bad JSON names its line and column."""
    if not text or not text.strip():
        raise DefinitionInvalid([Problem("", "Paste a workflow definition (JSON).")])
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise DefinitionInvalid([Problem(where, f"not valid JSON: {error.msg}")]) from None
    except RecursionError:
        raise DefinitionInvalid([Problem("", "the JSON is nested too deeply")]) from None


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    return None


class _Checker:
    """Collects problems while reading one definition."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def text(self, spec: Mapping, name: str, where: str, *, limit: int, required: bool = False):
        value = spec.get(name)
        if value is None:
            if required:
                self.add(f"{where} → {name}", "is required")
            return None
        if not isinstance(value, str):
            self.add(f"{where} → {name}", f"must be a string, not {_kind(value)}")
            return None
        problem = _text_problem(value)
        if problem is None and len(value) > limit:
            problem = f"must be at most {limit} characters"
        if problem is None and required and not value.strip():
            problem = "must not be empty"
        if problem:
            self.add(f"{where} → {name}", problem)
            return None
        return value

    def flag(self, spec: Mapping, name: str, where: str, default: bool) -> bool:
        value = spec.get(name, default)
        if not isinstance(value, bool):
            self.add(f"{where} → {name}", f"must be true or false, not {_kind(value)}")
            return default
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)  # fmt: skip


def _label(index: int, key: Any) -> str:
    return f'tasks[{index}] "{key}"' if isinstance(key, str) and key else f"tasks[{index}]"


def _read_key(check: _Checker, spec: Mapping, index: int) -> str | None:
    if "key" in spec and "id" in spec:
        check.add(_label(index, None), "give either 'key' or 'id', not both")
        return None
    name = "id" if "id" in spec else "key"
    key = check.text(spec, name, _label(index, None), limit=MAX_KEY_CHARS, required=True)
    return key.strip() if key else None


def _read_task(check: _Checker, spec: Any, index: int, key: str | None) -> dict | None:
    where = _label(index, key)
    if not isinstance(spec, Mapping):
        check.add(where, f"must be an object, not {_kind(spec)}")
        return None
    unknown = sorted(str(name) for name in spec if name not in TASK_FIELDS)
    if unknown:
        check.add(where, f"unknown field(s) {', '.join(unknown)}; allowed: "
                  f"{', '.join(name for name in TASK_FIELDS if name != 'id')}")  # fmt: skip
    task: dict[str, Any] = {"key": key}
    task["payload"] = check.text(spec, "payload", where, limit=MAX_PAYLOAD_CHARS, required=True)
    kind = spec.get("type", "bash")
    if kind not in TASK_TYPES:
        check.add(f"{where} → type", f"unknown type {kind!r}; choose one of: "
                  f"{', '.join(TASK_TYPES)}")  # fmt: skip
    task["type"] = kind
    task["name"] = _read_name(check, spec, where, key)
    task["description"] = check.text(spec, "description", where,
                                     limit=MAX_DESCRIPTION_CHARS) or ""  # fmt: skip
    task["timeout"] = _read_timeout(check, spec.get("timeout"), where)
    task["finally"] = check.flag(spec, "finally", where, False)
    task["required"] = check.flag(spec, "required", where, True)
    if not task["required"] and not task["finally"]:
        check.add(f"{where} → required", "false is only allowed on a finally task")
    after = spec.get("after", [])
    if not isinstance(after, list) or not all(isinstance(item, str) for item in after):
        check.add(f"{where} → after", "must be a list of task keys")
        after = []
    task["after"] = list(dict.fromkeys(item.strip() for item in after))
    return task


def _read_name(check: _Checker, spec: Mapping, where: str, key: str | None) -> str | None:
    """The task's name: its own, else its key when that makes a valid name, else None
    (orchestration then generates one)."""
    name = check.text(spec, "name", where, limit=MAX_NAME_CHARS)
    if name and name.strip():
        try:
            return clean_task_name(name)
        except ValueError as error:
            check.add(f"{where} → name", str(error))
            return None
    if key:
        try:
            return clean_task_name(key)
        except ValueError:
            return None
    return None


def _read_timeout(check: _Checker, value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        check.add(f"{where} → timeout", f"must be a number of seconds, not {_kind(value)}")
        return None
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        check.add(f"{where} → timeout", f"must be more than 0 and at most {MAX_TIMEOUT} seconds")
        return None
    return float(value)


def _check_edges(check: _Checker, tasks: list[dict | None]) -> None:
    known = list(dict.fromkeys(task["key"] for task in tasks if task and task["key"]))
    for index, task in enumerate(tasks):
        if not task or not task["key"]:
            continue
        where = f"{_label(index, task['key'])} → after"
        for dependency in task["after"]:
            if dependency == task["key"]:
                check.add(where, "a task cannot run after itself")
            elif dependency not in known:
                hint = ", ".join(k for k in known if k != task["key"]) or "none"
                check.add(where, f'unknown dependency "{dependency}" (known keys: {hint})')


def find_cycle(edges: Mapping[str, list[str]]) -> list[str] | None:
    """One cycle of ``key -> keys it runs after`` as ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in edges:
        if state.get(start):
            continue
        path: list[str] = [start]
        stack = [iter(edges.get(start, ()))]
        state[start] = 1
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(step) == 1:
                return [*path[path.index(step) :], step]
            elif not state.get(step) and step in edges:
                state[step] = 1
                path.append(step)
                stack.append(iter(edges[step]))
    return None


def check_definition(data: Any, *, title: str | None = None) -> dict[str, Any]:
    """The definition for ``graph_new``; raises DefinitionInvalid listing every problem."""
    check = _Checker()
    if isinstance(data, list):
        data = {"tasks": data}
    if not isinstance(data, Mapping):
        raise DefinitionInvalid([Problem("definition", 'must be {"title": ..., "tasks": [...]} '
                                         f"or a list of tasks, not {_kind(data)}")])  # fmt: skip
    unknown = sorted(str(name) for name in data if name not in TOP_FIELDS)
    if unknown:
        check.add("definition", f"unknown field(s) {', '.join(unknown)}; allowed: title, tasks")
    read_title = check.text(data, "title", "definition", limit=MAX_TITLE_CHARS)
    specs = data.get("tasks")
    if not isinstance(specs, list) or not 1 <= len(specs) <= MAX_TASKS:
        check.add("definition → tasks", f"must be a list of 1 to {MAX_TASKS} tasks")
        raise DefinitionInvalid(check.problems)
    keys = [_read_key(check, spec, i) if isinstance(spec, Mapping) else None
            for i, spec in enumerate(specs)]  # fmt: skip
    seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key is not None and key in seen:
            check.add(_label(index, key), f"duplicate key (tasks[{seen[key]}] has it too)")
        elif key is not None:
            seen[key] = index
    tasks = [_read_task(check, spec, i, keys[i]) for i, spec in enumerate(specs)]
    _check_edges(check, tasks)
    if not check.problems:
        cycle = find_cycle({task["key"]: task["after"] for task in tasks})
        if cycle:
            pairs = zip(cycle, cycle[1:], strict=False)
            steps = ", ".join(f'"{a}" runs after "{b}"' for a, b in pairs)
            check.add("definition", f"the tasks form a cycle: {steps}")
    if check.problems:
        raise DefinitionInvalid(check.problems)
    chosen = (title or "").strip() or (read_title or "").strip() or "workflow"
    return {"title": chosen[:MAX_TITLE_CHARS], "tasks": [_clean(task) for task in tasks]}


def _clean(task: dict) -> dict:
    out = {key: value for key, value in task.items() if value is not None}
    out.setdefault("description", "")
    return out
