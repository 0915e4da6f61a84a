"""Projects: a slug ID, a display name and the settings every task of the project runs with.

Settings: ``shutdown_grace`` (seconds between SIGTERM and SIGKILL when a task is stopped,
default 10), ``max_concurrent`` (running tasks of this project at once, None = no limit),
``name_categories`` (unique-namer categories for generated task names), ``git_repo``
(cloned into each task's workspace) and ``env`` (extra environment variables for tasks).
Secret-looking environment values are never shown back: ``Project.env`` masks them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from webapp.limits import (
    PROJECT_GRACE_MAX_SECONDS,
    PROJECT_ID_MAX_CHARS,
    PROJECT_MAX_CONCURRENT,
    PROJECT_NAME_MAX_CHARS,
)
from webapp.orchestration import context
from webapp.orchestration.archive import is_secret_name
from webapp.orchestration.errors import InvalidProject, ProjectExists, ProjectNotFound
from webapp.orchestration.naming import validate_name_categories
from webapp.orchestration.status import UI_STATUSES
from webapp.store import records
from webapp.store.db import immediate

PROJECT_ID_RE = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{PROJECT_ID_MAX_CHARS - 1}}}")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MASK = "••••••"
DEFAULT_GRACE = 10.0
EDITABLE = ("name", "shutdown_grace", "max_concurrent", "name_categories", "git_repo", "env")


@dataclass(frozen=True)
class Project:
    """A project as pages and the API show it (secret env values masked)."""

    id: str
    name: str
    created_at: datetime
    created_by: str | None
    shutdown_grace: float
    max_concurrent: int | None
    name_categories: list[str] | None
    git_repo: str | None
    env: dict[str, str]
    """Environment variables for tasks; secret-looking values are replaced by MASK."""
    version: int
    counts: dict[str, int] = field(default_factory=dict)
    """Tasks per UI status (every status present, zeros included)."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def mask_env(env: Mapping[str, str]) -> dict[str, str]:
    return {name: MASK if is_secret_name(name) else value for name, value in env.items()}


def check_project_id(project_id: object) -> str:
    if not isinstance(project_id, str) or not PROJECT_ID_RE.fullmatch(project_id):
        raise InvalidProject(
            f"Invalid project ID {project_id!r}: use 1-{PROJECT_ID_MAX_CHARS} characters of a-z, "
            "0-9, '_' and '-', "
            "starting with a letter or digit (e.g. 'backend')"
        )
    return project_id


def _check_grace(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidProject(f"shutdown_grace must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or not 0 <= value <= PROJECT_GRACE_MAX_SECONDS:
        raise InvalidProject(
            f"shutdown_grace must be between 0 and {PROJECT_GRACE_MAX_SECONDS} seconds, got {value}"
        )
    return float(value)


def _check_max_concurrent(value: object) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= PROJECT_MAX_CONCURRENT
    ):
        raise InvalidProject(
            f"max_concurrent must be a whole number from 1 to {PROJECT_MAX_CONCURRENT} "
            "(or empty for no limit), "
            f"got {value!r}"
        )
    return value


def _check_env(env: object) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise InvalidProject(f"env must be a mapping of names to values, got {env!r}")
    for name, value in env.items():
        if not isinstance(name, str) or not ENV_NAME_RE.fullmatch(name):
            raise InvalidProject(
                f"Invalid environment variable name {name!r}: use letters, digits and '_', "
                "not starting with a digit"
            )
        if not isinstance(value, str) or "\x00" in value:
            raise InvalidProject(f"Environment variable {name} must be text without NUL bytes")
    return dict(env)


def _check_git_repo(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.startswith("-") or any(c.isspace() for c in value):
        raise InvalidProject(
            f"Invalid git repository {value!r}: give a URL or path without spaces, "
            "e.g. https://example.com/team/repo.git"
        )
    return value


def _check_name(value: object, project_id: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return project_id
    if not isinstance(value, str) or len(value.strip()) > PROJECT_NAME_MAX_CHARS:
        raise InvalidProject(
            f"Project name must be text of at most {PROJECT_NAME_MAX_CHARS} characters"
        )
    return value.strip()


def _check_categories(value: object) -> list[str] | None:
    try:
        return validate_name_categories(value)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidProject(str(exc)) from None


def _project(row: dict[str, Any], counts: dict[str, int] | None = None) -> Project:
    all_counts = dict.fromkeys(UI_STATUSES, 0)
    all_counts.update(counts or {})
    return Project(
        id=row["id"],
        name=row["name"],
        created_at=records.parse_time(row["created_at"]),
        created_by=row["created_by"],
        shutdown_grace=row["shutdown_grace"],
        max_concurrent=row["max_concurrent"],
        name_categories=row["name_categories"],
        git_repo=row["git_repo"],
        env=mask_env(row["env"]),
        version=row["version"],
        counts=all_counts,
    )


def project_row(project_id: str) -> dict[str, Any]:
    """The stored project (real env values); ProjectNotFound if there is none."""
    row = records.get_project(context.db(), project_id)
    if row is None:
        raise ProjectNotFound(
            f"No project {project_id!r}; create it first (or pick one from the project list)"
        )
    return row


def project_create(
    project_id: str,
    *,
    name: str | None = None,
    shutdown_grace: float = DEFAULT_GRACE,
    max_concurrent: int | None = None,
    name_categories: str | list[str] | None = None,
    git_repo: str | None = None,
    env: Mapping[str, str] | None = None,
    actor: str = "system",
) -> Project:
    """Create a project; ProjectExists if the ID is taken."""
    check_project_id(project_id)
    row = {
        "id": project_id,
        "name": _check_name(name, project_id),
        "created_at": records.now_text(),
        "created_by": actor,
        "shutdown_grace": _check_grace(shutdown_grace),
        "max_concurrent": _check_max_concurrent(max_concurrent),
        "name_categories": _check_categories(name_categories),
        "git_repo": _check_git_repo(git_repo),
        "env": _check_env(env),
        "version": 1,
    }
    db = context.db()
    with immediate(db):
        if records.get_project(db, project_id) is not None:
            raise ProjectExists(f"Project {project_id!r} already exists; choose another ID")
        records.insert_project(db, row)
    return project_get(project_id)


def project_get(project_id: str) -> Project:
    db = context.db()
    row = project_row(project_id)
    counts = records.status_counts(db, project_id)
    return _project(row, {status: n for (_, status), n in counts.items()})


def project_list() -> list[Project]:
    """Every project, by ID, with its task counts (one grouped query for all counts)."""
    db = context.db()
    counts: dict[str, dict[str, int]] = {}
    for (project_id, status), n in records.status_counts(db).items():
        counts.setdefault(project_id, {})[status] = n
    return [_project(row, counts.get(row["id"])) for row in records.list_projects(db)]


def project_update(project_id: str, *, actor: str = "system", **settings: Any) -> Project:
    """Change project settings. An env value equal to MASK keeps the stored value."""
    unknown = sorted(set(settings) - set(EDITABLE))
    if unknown:
        raise InvalidProject(
            f"Unknown project setting(s) {', '.join(unknown)}; editable: {', '.join(EDITABLE)}"
        )
    db = context.db()
    with immediate(db):
        row = project_row(project_id)
        changes: dict[str, Any] = {}
        if "name" in settings:
            changes["name"] = _check_name(settings["name"], project_id)
        if "shutdown_grace" in settings:
            changes["shutdown_grace"] = _check_grace(settings["shutdown_grace"])
        if "max_concurrent" in settings:
            changes["max_concurrent"] = _check_max_concurrent(settings["max_concurrent"])
        if "name_categories" in settings:
            changes["name_categories"] = _check_categories(settings["name_categories"])
        if "git_repo" in settings:
            changes["git_repo"] = _check_git_repo(settings["git_repo"])
        if "env" in settings:
            env = _check_env(settings["env"])
            changes["env"] = {k: row["env"].get(k, v) if v == MASK else v for k, v in env.items()}
        if changes:
            records.update_project(db, project_id, changes)
    return project_get(project_id)


def project_version(project_id: str) -> int:
    """Bumped on every change to the project or any of its tasks (cheap: one indexed read)."""
    version = records.project_version(context.db(), project_id)
    if version is None:
        project_row(project_id)  # raises ProjectNotFound
    return version or 0


def changed_settings(before: Project, after: Project) -> list[str]:
    """The settings that differ between two states of a project, in ``EDITABLE`` order."""
    return [name for name in EDITABLE if getattr(before, name) != getattr(after, name)]


def describe_changes(names: list[str]) -> str:
    """ "changed name, env" (or "no change"): the audit detail of a settings change."""
    return "changed " + ", ".join(names) if names else "no change"
