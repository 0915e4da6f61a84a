"""Task IDs: terok's 5-character "Crockford-4.5" form, generation and prefix resolution.

An ID is a head letter from ``ghjkmnpqrstvwxyz`` (never a hex digit, so an ID cannot pass
for a git SHA or a container ID), a decimal digit, then three lowercase Crockford base32
characters: about 5.2 million IDs per project. IDs are emitted lowercase only; user input
is widened by ``normalize_task_id_input`` (case, hyphens, I/L -> 1, O -> 0).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Container, Iterable

from webapp.orchestration.errors import (
    AmbiguousTaskId,
    InvalidSlashForm,
    InvalidTaskId,
    MissingTaskId,
    TaskIdSpaceExhausted,
    TaskNotFound,
)
from webapp.orchestration.paths import segment_problem

HEAD_ALPHABET = "ghjkmnpqrstvwxyz"
DIGIT_ALPHABET = "0123456789"
CROCKFORD_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
TASK_ID_LENGTH = 5
ID_ATTEMPTS = 100

_TASK_ID_RE = re.compile(r"[ghjkmnp-tv-z][0-9][0-9a-hjkmnp-tv-z]{3}")
_TASK_ID_PREFIX_RE = re.compile(r"[ghjkmnp-tv-z](?:[0-9][0-9a-hjkmnp-tv-z]{0,3})?")
_CROCKFORD_SUBSTITUTIONS = str.maketrans({"i": "1", "l": "1", "o": "0"})


def is_task_id(text: object) -> bool:
    """True when ``text`` is a complete, canonical (lowercase) task ID."""
    return isinstance(text, str) and _TASK_ID_RE.fullmatch(text) is not None


def normalize_task_id_input(raw: str) -> str:
    """Collapse user input to canonical form: trim, drop hyphens, lowercase, I/L->1, O->0.

    Only for values a person typed. IDs read from the database or from disk are already
    canonical and must not be re-normalised.
    """
    return raw.strip().replace("-", "").lower().translate(_CROCKFORD_SUBSTITUTIONS)


def generate_task_id(existing: Container[str] = ()) -> str:
    """A fresh ID not in ``existing``, drawn with ``secrets``; gives up after 100 tries."""
    for _ in range(ID_ATTEMPTS):
        candidate = (
            secrets.choice(HEAD_ALPHABET)
            + secrets.choice(DIGIT_ALPHABET)
            + "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(3))
        )
        if candidate not in existing:
            return candidate
    raise TaskIdSpaceExhausted(f"Failed to generate unique task ID after {ID_ATTEMPTS} attempts")


def resolve_task_id(project_id: str, prefix: str, candidates: Iterable[str]) -> str:
    """Resolve a full ID or unique prefix typed by a user against a project's live task IDs.

    Order: empty input, head-letter check, Crockford substitution, prefix shape, exact
    match, then prefix match (one wins; none or several raise with the candidates listed).
    """
    stripped = prefix.strip().replace("-", "").lower()
    if not stripped:
        raise MissingTaskId(
            f"Missing task ID — name a task of project {project_id} by its ID "
            "or a unique prefix (e.g. 'k3v8h' or 'k3')"
        )
    if stripped[0] in "ilo":
        raise InvalidTaskId(
            f"Invalid task ID prefix '{prefix}'; task IDs never start with I, L, or O"
            f" — expected one of '{HEAD_ALPHABET}'"
        )
    wanted = normalize_task_id_input(stripped)
    if not _TASK_ID_PREFIX_RE.fullmatch(wanted):
        raise InvalidTaskId(
            f"Invalid task ID prefix '{prefix}'; expected 1-5 Crockford chars (e.g. 'k3v8h')"
        )
    known = [c for c in candidates if is_task_id(c)]
    if not known:
        raise TaskNotFound(f"No tasks found for project {project_id}")
    if wanted in known:
        return wanted
    matches = sorted({c for c in known if c.startswith(wanted)})
    if not matches:
        raise TaskNotFound(f"No task matching '{wanted}' in project {project_id}")
    if len(matches) > 1:
        raise AmbiguousTaskId(
            f"Ambiguous task ID '{wanted}' — matches: {', '.join(matches)}", matches
        )
    return matches[0]


def split_project_task(text: str) -> tuple[str, str]:
    """Split the ``project/task`` form; both parts must be non-empty, safe path segments."""
    project_id, slash, task = text.partition("/")
    if not slash:
        raise InvalidSlashForm(f"Expected '<project>/<task_id>', got {text!r}")
    for label, part in (("project", project_id), ("task", task)):
        problem = segment_problem(part)
        if problem:
            raise InvalidSlashForm(f"Invalid slash-form {label}: {text!r} ({label} {problem})")
    return project_id, task
