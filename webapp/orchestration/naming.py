"""Task names: terok's slug rules and generated ``adjective-noun`` names from unique-namer."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import namer

from webapp.limits import TASK_NAME_MAX_CHARS
from webapp.orchestration.errors import InvalidTaskName, NotBound

TASK_NAME_MAX_LEN = TASK_NAME_MAX_CHARS  # seed 000's name
DEFAULT_CATEGORY_COUNT = 3

_OUTSIDE_SLUG = re.compile(r"[^a-z0-9_-]")
_HYPHEN_RUN = re.compile(r"-{2,}")


def sanitize_task_name(raw: str | None) -> str | None:
    """Slug a raw name: trim, lowercase, spaces to ``-``, keep ``[a-z0-9_-]``.

    Runs of hyphens collapse to one, trailing hyphens go, the result is cut to
    ``TASK_NAME_MAX_LEN`` characters and never ends in a hyphen (also after the cut). A
    leading hyphen is kept so ``validate_task_name`` can reject it. Tabs and other whitespace
    are deleted, not turned into hyphens; non-ASCII letters are deleted. An empty result is
    ``None``.
    """
    if raw is None:
        return None
    slug = raw.strip().lower().replace(" ", "-")
    slug = _HYPHEN_RUN.sub("-", _OUTSIDE_SLUG.sub("", slug))
    slug = slug.rstrip("-")[:TASK_NAME_MAX_LEN].rstrip("-")
    return slug or None


def validate_task_name(sanitized: str | None) -> str | None:
    """The reason a sanitized name is unusable, or ``None`` when it is fine."""
    if sanitized is None:
        return "name must contain at least one letter, digit, '_' or '-'"
    if sanitized.startswith("-"):
        return "name must not start with a hyphen"
    return None


def clean_task_name(raw: str) -> str:
    """Sanitize and validate ``raw`` in one step; raise InvalidTaskName with terok's wording."""
    sanitized = sanitize_task_name(raw)
    if sanitized is None:
        raise InvalidTaskName(
            f"Invalid task name: {raw!r} — it must contain at least one of a-z, 0-9, '_' or '-'"
        )
    problem = validate_task_name(sanitized)
    if problem:
        raise InvalidTaskName(f"Invalid task name: {problem}")
    return sanitized


def validate_name_categories(categories: str | Sequence[str] | None) -> list[str] | None:
    """Normalise a category setting to a list (or ``None`` for "not set").

    A single string becomes a one-item list; empty values mean "not set". An unknown
    category raises InvalidTaskName listing the valid ones.
    """
    if not categories:
        return None
    chosen = [categories] if isinstance(categories, str) else list(categories)
    valid = namer.list_categories()
    unknown = [c for c in chosen if c not in valid]
    if unknown:
        raise InvalidTaskName(
            f"Unknown name categor{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(repr(c) for c in unknown)}; valid categories: {', '.join(valid)}"
        )
    return chosen


def default_categories_for_project(project_id: str) -> list[str]:
    """A stable theme of 3 categories per project, derived from a hash of its ID."""
    digest = hashlib.md5(project_id.encode("utf-8"), usedforsecurity=False).hexdigest()
    rng = random.Random(int(digest, 16))
    return rng.sample(sorted(namer.list_categories()), DEFAULT_CATEGORY_COUNT)


def _global_categories() -> list[str] | None:
    """The installation's TASK_NAME_CATEGORIES, when settings are bound and set it."""
    from webapp.orchestration import context  # naming is imported by context's callers

    try:
        chosen = context.current().task_name_categories
    except NotBound:
        return None
    return list(chosen) if chosen else None


def _project_categories(project_id: str | None) -> list[str] | None:
    """The project's own ``name_categories`` (None: unset, unknown project or nothing bound)."""
    if not project_id:
        return None
    from webapp.orchestration import context
    from webapp.store import records

    try:
        row = records.get_project(context.current().store.db, project_id)
    except (NotBound, LookupError):
        return None
    return (row or {}).get("name_categories") or None


def resolve_name_categories(
    project_id: str | None = None, categories: str | Sequence[str] | None = None
) -> list[str] | None:
    """Seed 000's order: explicit (the project's) categories, then the global
    TASK_NAME_CATEGORIES setting, then 3 categories chosen from the project ID's hash; with
    no project at all, ``None`` (every category)."""
    explicit = validate_name_categories(categories)
    if explicit is not None:
        return explicit
    configured = _global_categories()
    if configured is not None:
        return configured
    if project_id:
        return default_categories_for_project(project_id)
    return None


_PROJECT_SETTING = object()


def generate_task_name(project_id: str | None = None, categories: Any = _PROJECT_SETTING) -> str:
    """A random ``adjective-noun`` name (e.g. ``talented-toucan``), already a valid slug.

    Without ``categories``, the project's own ``name_categories`` are read (when settings are
    bound), then :func:`resolve_name_categories` applies seed 000's fallbacks. Names are not
    checked for collisions: names may repeat, IDs identify tasks.
    """
    if categories is _PROJECT_SETTING:
        categories = _project_categories(project_id)
    resolved = resolve_name_categories(project_id, categories)
    # A few nouns carry characters outside the slug alphabet ("c++"): sanitize the output.
    name = sanitize_task_name(namer.generate(separator="-", category=resolved))
    if name is None or validate_task_name(name):  # pragma: no cover - namer words are ASCII
        raise InvalidTaskName(f"unique-namer produced an unusable name: {name!r}")
    return name


@dataclass(frozen=True)
class NamePreview:
    """What a typed task name becomes when saved, and why (for the rename form, as you type)."""

    typed: str
    name: str | None
    """The name that would be saved; None when it would be refused."""
    changes: list[str]
    """What sanitising did, in words ("spaces became hyphens", ...)."""
    problem: str | None
    """Why it would be refused, in words; None when it would be saved."""


def preview_task_name(raw: str) -> NamePreview:
    """``sanitize_task_name`` and ``validate_task_name`` explained, without saving anything."""
    raw = raw or ""
    sanitized = sanitize_task_name(raw)
    problem = validate_task_name(sanitized)
    text = raw.strip()
    changes = []
    if text != raw:
        changes.append("surrounding spaces were trimmed")
    if text != text.lower():
        changes.append("capitals became lowercase")
    if " " in text:
        changes.append("spaces became hyphens")
    removed = sorted({c for c in text.lower().replace(" ", "-") if _OUTSIDE_SLUG.match(c)})
    if removed:
        shown = " ".join("tab" if c == "\t" else c for c in removed)
        changes.append(f"removed what names cannot hold: {shown}")
    slug = _OUTSIDE_SLUG.sub("", text.lower().replace(" ", "-"))
    if _HYPHEN_RUN.search(slug):
        changes.append("repeated hyphens became one")
    if len(slug.rstrip("-")) > TASK_NAME_MAX_LEN:
        changes.append(f"cut to {TASK_NAME_MAX_LEN} characters")
    return NamePreview(raw, None if problem else sanitized, changes, problem)
