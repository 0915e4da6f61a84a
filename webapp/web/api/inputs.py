"""Reading API input (query parameters, JSON bodies) and writing read models as JSON.

Every problem becomes a 400 whose detail names the parameter or field and what it must be.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import abort, request

MAX_INT = 2**53  # what every JSON client can represent exactly


def _check_text(value: str, where: str) -> str:
    if "\x00" in value:
        abort(400, f"{where} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        abort(400, f"{where} must be valid Unicode text (no lone surrogates)")
    return value


def query_text(name: str, *, max_length: int = 200) -> str | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if len(value) > max_length:
        abort(400, f"query parameter {name!r} must be at most {max_length} characters")
    return _check_text(value, f"query parameter {name!r}")


def query_int(name: str, default: int | None, *, minimum: int = 0, maximum: int = MAX_INT):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 20:
        abort(400, f"query parameter {name!r} must be a whole number, not {raw[:40]!r}")
    value = int(raw)
    if not minimum <= value <= maximum:
        abort(400, f"query parameter {name!r} must be between {minimum} and {maximum}")
    return value


class Body:
    """The request's JSON object; fields are read once each and unknown fields refused."""

    def __init__(self, allowed: tuple[str, ...]):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            abort(400, "send a JSON object as the body, with Content-Type: application/json")
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            abort(
                400,
                f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}",
            )
        self.data = data

    def has(self, name: str) -> bool:
        return name in self.data

    def text(self, name: str, *, required: bool = False, max_length: int = 100_000):
        value = self.data.get(name)
        if value is None:
            if required:
                abort(400, f"field {name!r} is required")
            return None
        if not isinstance(value, str):
            abort(400, f"field {name!r} must be a string")
        if len(value) > max_length:
            abort(400, f"field {name!r} must be at most {max_length} characters")
        return _check_text(value, f"field {name!r}")

    def number(self, name: str, *, minimum: float = 0, maximum: float = 1e9):
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            abort(400, f"field {name!r} must be a number")
        if not math.isfinite(value) or not minimum <= value <= maximum:
            abort(400, f"field {name!r} must be between {minimum} and {maximum}")
        return value

    def integer(self, name: str, *, minimum: int = 0, maximum: int = 10**6):
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON has one number type: 5.0 is the whole number 5
        if isinstance(value, bool) or not isinstance(value, int):
            abort(400, f"field {name!r} must be a whole number")
        if not minimum <= value <= maximum:
            abort(400, f"field {name!r} must be between {minimum} and {maximum}")
        return value

    def strings(self, name: str, *, max_items: int = 100, max_length: int = 100):
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or len(value) > max_items:
            abort(400, f"field {name!r} must be a list of at most {max_items} strings")
        for item in value:
            if not isinstance(item, str) or len(item) > max_length:
                abort(400, f"field {name!r} must hold strings of at most {max_length} characters")
            _check_text(item, f"field {name!r}")
        return value

    def mapping(self, name: str, *, max_items: int = 200, max_length: int = 10_000):
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict) or len(value) > max_items:
            abort(400, f"field {name!r} must be an object of at most {max_items} entries")
        for key, item in value.items():
            if not isinstance(item, str) or len(item) > max_length or len(key) > 200:
                abort(400, f"field {name!r} must map names to strings")
            _check_text(key, f"field {name!r}")
            _check_text(item, f"field {name!r}")
        return value


def to_json(value: Any, extra: tuple[str, ...] = ()) -> Any:
    """Dataclasses (plus the named properties), datetimes and paths as JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        out.update({name: to_json(getattr(value, name)) for name in extra})
        return out
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value
