"""Path safety: an identifier becomes a path segment only after these checks."""

from __future__ import annotations

import os
from pathlib import Path

from webapp.orchestration.errors import UnsafePath


def segment_problem(value: object) -> str | None:
    """Why ``value`` is not a safe single path segment, or None when it is.

    terok's rules (empty, ``.``, ``..``, a leading ``..``, ``/`` or ``\\``) plus NUL bytes,
    which the OS would reject later with a less helpful error.
    """
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value:
        return "must not be empty"
    if value in (".", ".."):
        return f"must not be {value!r}"
    if value.startswith(".."):
        return "must not start with '..'"
    if "/" in value or "\\" in value:
        return "must not contain '/' or '\\'"
    if "\x00" in value:
        return "must not contain a NUL byte"
    return None


def safe_segment(value: str, what: str = "identifier") -> str:
    """Return ``value`` unchanged, or raise UnsafePath naming ``what`` and the problem."""
    problem = segment_problem(value)
    if problem:
        raise UnsafePath(f"Unsafe {what} {value!r}: {problem}")
    return value


def safe_join(root: str | os.PathLike[str], *segments: str, what: str = "identifier") -> Path:
    """Join validated ``segments`` under ``root``; the result never leaves ``root``."""
    base = Path(root)
    for segment in segments:
        safe_segment(segment, what)
    path = base.joinpath(*segments)
    root_abs = os.path.abspath(base)
    if os.path.commonpath([root_abs, os.path.abspath(path)]) != root_abs:
        raise UnsafePath(f"Unsafe {what}: {'/'.join(segments)!r} leaves {root_abs}")
    return path
