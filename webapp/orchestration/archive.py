"""Archived tasks: the metadata snapshot and logs that a delete leaves behind.

Layout (terok's, under an explicit root)::

    <archive_root>/<project_id>/<UTC %Y%m%dT%H%M%S%fZ>_<task_id>[_<name>][_<n>]/
        task.json   metadata snapshot, secrets redacted, written atomically and last
        logs/       copy of the task's log directory (regular files only)

The timestamp is the key because task IDs and names are reused. A folder without a
readable ``task.json`` is an archive still being written (or a broken one) and is not
listed. Archived logs are read with the ``logs`` module's readers, like live ones.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from webapp.orchestration.errors import (
    AmbiguousArchive,
    ArchiveIncomplete,
    ArchiveNotFound,
    InvalidArchiveId,
    OrchestrationError,
)
from webapp.orchestration.identity import normalize_task_id_input
from webapp.orchestration.logs import LOG_FILE_NAME
from webapp.orchestration.naming import sanitize_task_name
from webapp.orchestration.paths import safe_join, safe_segment

log = logging.getLogger(__name__)

TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
SNAPSHOT_FILE = "task.json"
LOGS_DIR = "logs"
REDACTED = "[redacted]"
PAYLOAD_EXCERPT_CHARS = 200
_MAX_COLLISIONS = 1000
_PAYLOAD_KEYS = ("command", "script", "prompt")

_SECRET_WORDS = frozenset({
    "secret", "secrets", "token", "tokens", "password", "passwords", "passwd", "pwd",
    "passphrase", "key", "keys", "apikey", "credential", "credentials", "auth",
    "authorization", "cookie", "cookies", "session", "private", "salt",
})  # fmt: skip
_SECRET_SUFFIXES = ("token", "secret", "password", "passwd", "apikey", "privatekey")
_CAMEL_BOUNDARY = re.compile(r"([a-z0-9])([A-Z])")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@")
_BARE_STAMP = re.compile(r"\d{8}T\d{6}Z")


def archive_timestamp(now: datetime | None = None) -> str:
    """UTC time with microseconds, e.g. ``20260305T143000123456Z`` (naive = already UTC)."""
    moment = now or datetime.now(UTC)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime(TIMESTAMP_FORMAT)


def is_secret_name(name: str) -> bool:
    """True for names like ``GITHUB_TOKEN``, ``apiKey``, ``db_password``, ``Authorization``."""
    words = re.split(r"[^a-z0-9]+", _CAMEL_BOUNDARY.sub(r"\1_\2", name).lower())
    return any(w in _SECRET_WORDS or w.endswith(_SECRET_SUFFIXES) for w in words if w)


def redact_secrets(value: Any) -> Any:
    """A copy of ``value`` with secrets replaced by ``[redacted]``.

    Redacted: values under a secret-looking key (at any depth), ``NAME=value`` strings with a
    secret-looking NAME (environment lists), and passwords inside URLs.
    """
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_name(str(key)) else redact_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_secrets(item) for item in value]
    if isinstance(value, str):
        assignment = _ASSIGNMENT.fullmatch(value)
        if assignment and is_secret_name(assignment.group(1)):
            return f"{assignment.group(1)}={REDACTED}"
        return _URL_PASSWORD.sub(rf"\1{REDACTED}@", value)
    return value


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _create_unique_dir(parent: Path, base: str) -> Path:
    """mkdir ``base``, else ``base_1``, ``base_2``...: safe against concurrent archivers."""
    for attempt in range(_MAX_COLLISIONS):
        candidate = parent / (base if attempt == 0 else f"{base}_{attempt}")
        try:
            candidate.mkdir(mode=0o700, exist_ok=False)
        except FileExistsError:
            continue
        return candidate
    raise OrchestrationError(f"Could not create an archive folder for {base} in {parent}")


def _copy_logs(source: Path, target: Path) -> list[str]:
    """Copy regular files (never symlinks) from ``source``; return one message per failure."""
    errors: list[str] = []
    for folder, dirnames, filenames in os.walk(source, onerror=lambda e: errors.append(str(e))):
        rel = Path(folder).relative_to(source)
        (target / rel).mkdir(parents=True, exist_ok=True)
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(folder, d))]
        for filename in filenames:
            src = Path(folder, filename)
            if src.is_symlink() or not src.is_file():
                continue
            try:
                shutil.copy2(src, target / rel / filename)
            except OSError as exc:
                errors.append(f"{src}: {exc}")
    return errors


def archive_task(
    archive_root: str | os.PathLike[str],
    project_id: str,
    task_id: str,
    name: str | None,
    snapshot: dict,
    log_dir: str | os.PathLike[str] | None,
    *,
    now: datetime | None = None,
) -> Path:
    """Archive a task's snapshot and logs; return the new folder.

    Raises ArchiveIncomplete (with ``archive_dir``) when the snapshot was written but some
    log files could not be copied; other failures raise before anything is listed.
    """
    safe_segment(task_id, "task id")
    project_dir = safe_join(archive_root, project_id, what="project id")
    project_dir.mkdir(parents=True, exist_ok=True)
    stamp = archive_timestamp(now)
    slug = sanitize_task_name(name)
    archive_dir = _create_unique_dir(
        project_dir, f"{stamp}_{task_id}" + (f"_{slug}" if slug else "")
    )
    errors: list[str] = []
    if log_dir is not None and Path(log_dir).is_dir():
        errors = _copy_logs(Path(log_dir), archive_dir / LOGS_DIR)
    record = redact_secrets(dict(snapshot))
    record.update(project_id=project_id, task_id=task_id, name=slug)
    record["archived_at"] = (
        datetime.strptime(stamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC).isoformat()
    )
    if errors:
        record["log_copy_errors"] = errors
    _write_json_atomic(archive_dir / SNAPSHOT_FILE, record)
    if errors:
        raise ArchiveIncomplete(
            f"Archived task {task_id} to {archive_dir.name}, but {len(errors)} log file(s) "
            f"could not be copied: {errors[0]}",
            archive_dir,
        )
    return archive_dir


@dataclass(frozen=True)
class ArchivedTask:
    """One archived task, as listed in the archive browser."""

    archive_dir: Path
    archived_at: str
    """The folder's UTC timestamp string, e.g. ``20260305T143000123456Z``."""
    task_id: str
    name: str | None
    mode: str | None = None
    exit_code: int | None = None
    status: str | None = None
    type: str | None = None
    payload_excerpt: str = ""
    """The payload's command/script/prompt (or its JSON), on one line, at most 200 chars."""
    created_at: str | None = None
    finished_at: str | None = None
    created_by: str | None = None
    has_logs: bool = False

    @property
    def archive_id(self) -> str:
        """The folder name: what a user types (a prefix of) to pick this archive."""
        return self.archive_dir.name

    @property
    def archived_datetime(self) -> datetime:
        return datetime.strptime(self.archived_at, TIMESTAMP_FORMAT).replace(tzinfo=UTC)

    def log_path(self, log_name: str = LOG_FILE_NAME) -> Path:
        return self.archive_dir / LOGS_DIR / log_name


def _excerpt(payload: Any) -> str:
    if payload is None:
        return ""
    if isinstance(payload, dict):  # the part a person recognises a task by
        payload = next(
            (payload[k] for k in _PAYLOAD_KEYS if isinstance(payload.get(k), str)), payload
        )
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    text = " ".join(text.split())
    return text if len(text) <= PAYLOAD_EXCERPT_CHARS else text[: PAYLOAD_EXCERPT_CHARS - 1] + "…"


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _load(archive_dir: Path) -> ArchivedTask | None:
    try:
        data = json.loads((archive_dir / SNAPSHOT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    exit_code = data.get("exit_code")
    return ArchivedTask(
        archive_dir=archive_dir,
        archived_at=archive_dir.name.split("_", 1)[0],
        task_id=str(data.get("task_id") or ""),
        name=_optional_str(data.get("name")),
        mode=_optional_str(data.get("mode")),
        exit_code=exit_code
        if isinstance(exit_code, int) and not isinstance(exit_code, bool)
        else None,
        status=_optional_str(data.get("status")),
        type=_optional_str(data.get("type")),
        payload_excerpt=_excerpt(data.get("payload")),
        created_at=_optional_str(data.get("created_at")),
        finished_at=_optional_str(data.get("finished_at")),
        created_by=_optional_str(data.get("created_by")),
        has_logs=(archive_dir / LOGS_DIR / LOG_FILE_NAME).is_file(),
    )


def list_archived_tasks(
    archive_root: str | os.PathLike[str], project_id: str
) -> list[ArchivedTask]:
    """Every complete archive of a project, newest first."""
    project_dir = safe_join(archive_root, project_id, what="project id")
    if not project_dir.is_dir():
        return []
    entries = sorted(os.scandir(project_dir), key=lambda e: e.name, reverse=True)
    loaded = (_load(Path(e.path)) for e in entries if e.is_dir(follow_symlinks=False))
    return [task for task in loaded if task is not None]


def find_archived_task(
    archive_root: str | os.PathLike[str], project_id: str, prefix: str
) -> ArchivedTask:
    """The one archive whose folder name or task ID starts with ``prefix``.

    An exact folder name wins. Folder prefixes compare case-insensitively and a bare
    ``YYYYmmddTHHMMSSZ`` matches the folder it names. Several matches raise
    AmbiguousArchive listing them (newest first); none raises ArchiveNotFound.
    """
    raw = prefix.strip()
    if not raw:
        raise InvalidArchiveId(
            "Missing archive ID — give the start of an archive folder name "
            "(its UTC timestamp, e.g. '20260305T1430') or a task ID prefix"
        )
    folder_prefix = raw[:-1] if _BARE_STAMP.fullmatch(raw) else raw
    task_prefix = normalize_task_id_input(raw)
    archived = list_archived_tasks(archive_root, project_id)
    for task in archived:
        if task.archive_id == raw:
            return task
    matches = [
        task
        for task in archived
        if task.archive_id.lower().startswith(folder_prefix.lower())
        or (task.task_id and task_prefix and task.task_id.startswith(task_prefix))
    ]
    if not matches:
        raise ArchiveNotFound(
            f"No archived task matching '{raw}' in project {project_id}; "
            "list the project's archive to see what is available"
        )
    if len(matches) > 1:
        names = [task.archive_id for task in matches]
        raise AmbiguousArchive(f"Ambiguous archive '{raw}' — matches: {', '.join(names)}", names)
    return matches[0]


def task_archive_logs(
    archive_root: str | os.PathLike[str],
    project_id: str,
    prefix: str,
    *,
    log_name: str = LOG_FILE_NAME,
) -> Path | None:
    """The archived log of the task ``prefix`` names, or None when no archive matches or it
    was archived without one (seed 000)."""
    try:
        archived = find_archived_task(archive_root, project_id, prefix)
    except ArchiveNotFound:
        return None
    path = archived.log_path(log_name)
    return path if path.is_file() else None


def _folder_time(name: str) -> datetime | None:
    try:
        return datetime.strptime(name.split("_", 1)[0], TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def apply_retention(
    archive_root: str | os.PathLike[str],
    project_id: str,
    *,
    max_age_days: float | None = None,
    keep_last: int | None = None,
    now: datetime | None = None,
) -> list[Path]:
    """Delete archives older than ``max_age_days`` or beyond the newest ``keep_last``.

    Only folders named by an archive timestamp are touched. ``keep_last`` counts complete
    archives; a folder still being written is removed only by age. Returns what was removed
    (a folder that could not be removed is logged and left).
    """
    if max_age_days is not None and max_age_days <= 0:
        raise ValueError(f"max_age_days must be positive, got {max_age_days}")
    if keep_last is not None and keep_last < 0:
        raise ValueError(f"keep_last must not be negative, got {keep_last}")
    project_dir = safe_join(archive_root, project_id, what="project id")
    if (max_age_days is None and keep_last is None) or not project_dir.is_dir():
        return []
    moment = now or datetime.now(UTC)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    cutoff = None if max_age_days is None else moment - timedelta(days=max_age_days)
    removed: list[Path] = []
    complete_seen = 0
    for entry in sorted(os.scandir(project_dir), key=lambda e: e.name, reverse=True):
        stamp = _folder_time(entry.name)
        if stamp is None or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        complete = (path / SNAPSHOT_FILE).is_file()
        too_old = cutoff is not None and stamp < cutoff
        beyond = complete and keep_last is not None and complete_seen >= keep_last
        complete_seen += complete
        if too_old or beyond:
            try:
                shutil.rmtree(path)
            except OSError as exc:
                log.warning("retention could not remove %s: %s", path, exc)
                continue
            removed.append(path)
    return removed
