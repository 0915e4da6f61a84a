"""Task names: terok's slug rules and generated ``adjective-noun`` names from unique-namer."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence

import namer

from webapp.limits import TASK_NAME_MAX_CHARS
from webapp.orchestration.errors import InvalidTaskName

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


def resolve_name_categories(
    project_id: str | None = None, categories: str | Sequence[str] | None = None
) -> list[str] | None:
    """Explicit categories win; else the project's hash default; else ``None`` (general)."""
    explicit = validate_name_categories(categories)
    if explicit is not None:
        return explicit
    if project_id:
        return default_categories_for_project(project_id)
    return None


def generate_task_name(
    project_id: str | None = None, categories: str | Sequence[str] | None = None
) -> str:
    """A random ``adjective-noun`` name (e.g. ``talented-toucan``), already a valid slug.

    Names are not checked for collisions: names may repeat, IDs identify tasks.
    """
    resolved = resolve_name_categories(project_id, categories)
    # A few nouns carry characters outside the slug alphabet ("c++"): sanitize the output.
    name = sanitize_task_name(namer.generate(separator="-", category=resolved))
    if name is None or validate_task_name(name):  # pragma: no cover - namer words are ASCII
        raise InvalidTaskName(f"unique-namer produced an unusable name: {name!r}")
    return name
