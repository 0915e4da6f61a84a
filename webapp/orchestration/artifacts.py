"""A task's files: run logs, its workspace diff, and archived tasks (with their logs).

Layout under ``<data_dir>/tasks/<project>/<task>/``: ``workspace/`` (the task's working
directory) and ``logs/`` (``task.log`` for run 1, ``run-<n>.log`` for later runs, each with
its ``.streams`` sidecar). A delete archives the ``logs/`` folder as it is, so archived logs
are read with the same functions, by run number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from webapp.limits import LOG_TAIL_MAX_LINES
from webapp.orchestration import context, logs, workspace
from webapp.orchestration.archive import ArchivedTask, find_archived_task
from webapp.orchestration.archive import list_archived_tasks as _list_archived
from webapp.orchestration.errors import ArchiveNotFound, InvalidTaskRequest, TaskNotFound
from webapp.orchestration.projects import check_project_id
from webapp.store import records

LOGS_DIR = "logs"


@dataclass(frozen=True)
class LogChunk:
    """Part of a log: labelled text plus where to continue (for a live tail)."""

    segments: tuple[tuple[str, str], ...]
    """(stream, text) pairs; stream is "stdout", "stderr" or "system" (webapp's notes)."""
    offset: int
    next_offset: int
    size: int
    truncated: bool
    """The log hit its size cap (the file ends with webapp's truncation marker)."""
    eof: bool
    """Nothing more to read right now (a running task may still add more)."""

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.segments)


def run_log_name(run_no: int) -> str:
    """``task.log`` for the first run (the archive's default name), ``run-<n>.log`` after."""
    return logs.LOG_FILE_NAME if run_no <= 1 else f"run-{run_no}.log"


def task_dir(project_id: str, task_id: str) -> Path:
    return workspace.task_dir(context.current().tasks_root, project_id, task_id)


def log_dir_under(tasks_root: str | Path, project_id: str, task_id: str) -> Path:
    """``<tasks_root>/<project>/<task>/logs`` (IDs checked against traversal)."""
    return workspace.task_dir(tasks_root, project_id, task_id) / LOGS_DIR


def log_dir(project_id: str, task_id: str) -> Path:
    return log_dir_under(context.current().tasks_root, project_id, task_id)


def workspace_dir(project_id: str, task_id: str) -> Path:
    return workspace.workspace_path(context.current().tasks_root, project_id, task_id)


def _run_no(project_id: str, task_id: str, run_no: int | None) -> int:
    row = records.get_task_record(context.db(), project_id, task_id)
    if row is None:
        raise TaskNotFound(f"Unknown task {task_id} in project {project_id}")
    if run_no is None:
        return row["run_no"]
    if isinstance(run_no, bool) or not isinstance(run_no, int) or not 1 <= run_no <= row["run_no"]:
        raise InvalidTaskRequest(
            f"Task {task_id} has runs 1 to {row['run_no']}; there is no run {run_no!r}"
        )
    return run_no


def task_log_path(project_id: str, task_id: str, *, run_no: int | None = None) -> Path:
    """The log file of a run (default: the current run); it may not exist yet."""
    return run_log_path(project_id, task_id, _run_no(project_id, task_id, run_no))


def run_log_path(project_id: str, task_id: str, run_no: int) -> Path:
    """The log file of run ``run_no`` of a task already read (no query; IDs still checked)."""
    if isinstance(run_no, bool) or not isinstance(run_no, int) or run_no < 1:
        raise InvalidTaskRequest(f"run_no must be a run number (1 or more), got {run_no!r}")
    return log_dir(project_id, task_id) / run_log_name(run_no)


def _chunk(raw: logs.LogChunk, cap_marker: bool) -> LogChunk:
    segments = tuple((s.stream, s.text) for s in raw.segments)
    return LogChunk(segments, raw.offset, raw.next_offset, raw.size, cap_marker, raw.at_end)


def _is_truncated(path: Path) -> bool:
    """Did the log hit its cap? (its last line is the truncation marker)."""
    tail = logs.tail_lines(path, 1, max_bytes=4096, final=True).text
    return tail.startswith("[webapp] log truncated at")


def read_log_file(path: Path, *, offset: int = 0, max_bytes: int = logs.DEFAULT_READ_BYTES):
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidTaskRequest(f"offset must be 0 or more, got {offset!r}")
    max_bytes = max(1, min(int(max_bytes), 4 * 1024 * 1024))
    raw = logs.read_from(path, offset, max_bytes)
    return _chunk(raw, raw.at_end and _is_truncated(path))


def read_task_log(
    project_id: str,
    task_id: str,
    *,
    offset: int = 0,
    max_bytes: int = logs.DEFAULT_READ_BYTES,
    run_no: int | None = None,
) -> LogChunk:
    """Log bytes from ``offset`` on (whole characters), for a live tail or paging."""
    return read_log_file(task_log_path(project_id, task_id, run_no=run_no), offset=offset,
                         max_bytes=max_bytes)  # fmt: skip


def read_run_log(
    project_id: str,
    task_id: str,
    run_no: int,
    *,
    offset: int = 0,
    max_bytes: int = logs.DEFAULT_READ_BYTES,
) -> LogChunk:
    """``read_task_log`` for a run the caller has already looked up: no database read."""
    return read_log_file(run_log_path(project_id, task_id, run_no), offset=offset,
                         max_bytes=max_bytes)  # fmt: skip


def tail_task_log(
    project_id: str, task_id: str, *, lines: int = 100, run_no: int | None = None
) -> LogChunk:
    """The last ``lines`` lines of a run's log (read from the end: fast for any size)."""
    if (
        isinstance(lines, bool)
        or not isinstance(lines, int)
        or not 0 <= lines <= LOG_TAIL_MAX_LINES
    ):
        raise InvalidTaskRequest(f"lines must be between 0 and {LOG_TAIL_MAX_LINES}, got {lines!r}")
    path = task_log_path(project_id, task_id, run_no=run_no)
    raw = logs.tail_lines(path, lines)
    return _chunk(raw, _is_truncated(path))


def search_task_log(
    project_id: str, task_id: str, query: str, *, limit: int = 200, run_no: int | None = None
) -> list[logs.LogMatch]:
    """Lines of a run's log containing ``query`` (case-insensitive), at most ``limit``."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidTaskRequest("Search text must not be empty")
    path = task_log_path(project_id, task_id, run_no=run_no)
    return logs.search(path, query, limit=max(1, min(limit, 10_000)))


def get_workspace_git_diff(project_id: str, task_id: str, against: str = "HEAD") -> str | None:
    """The task workspace's git diff against ``against`` (None if it is not a git checkout)."""
    _run_no(project_id, task_id, None)
    return workspace.get_workspace_git_diff(workspace_dir(project_id, task_id), against)


task_diff = get_workspace_git_diff


# -- archive ----------------------------------------------------------------------------------
def list_archived_tasks(project_id: str) -> list[ArchivedTask]:
    """A project's archived (deleted) tasks, newest first."""
    check_project_id(project_id)
    return _list_archived(context.current().archive_root, project_id)


def get_archived_task(project_id: str, archive_id_or_task_prefix: str) -> ArchivedTask:
    """One archive by folder-name prefix or task ID prefix; errors on ambiguity."""
    check_project_id(project_id)
    return find_archived_task(context.current().archive_root, project_id, archive_id_or_task_prefix)


def archived_log_path(archived: ArchivedTask, run_no: int | None = None) -> Path:
    """An archived run's log; the newest run's by default."""
    if run_no is None:
        numbers = [_log_run_no(p.name) for p in (archived.archive_dir / LOGS_DIR).glob("*.log")]
        run_no = max((n for n in numbers if n), default=1)
    return archived.log_path(run_log_name(run_no))


def _log_run_no(name: str) -> int | None:
    """The run number a log file name stands for (None for other files)."""
    if name == logs.LOG_FILE_NAME:
        return 1
    digits = name.removeprefix("run-").removesuffix(".log")
    return int(digits) if name.startswith("run-") and digits.isdigit() else None


def task_archive_logs(
    project_id: str, archive_id: str, *, run_no: int | None = None
) -> Path | None:
    """The archived log file (newest run by default), or None when no archive matches
    ``archive_id`` or it holds no such log (seed 000). An ambiguous prefix still raises."""
    try:
        archived = get_archived_task(project_id, archive_id)
    except ArchiveNotFound:
        return None
    path = archived_log_path(archived, run_no)
    return path if path.is_file() else None


def read_archived_log(
    project_id: str,
    archive_id: str,
    *,
    offset: int = 0,
    max_bytes: int = logs.DEFAULT_READ_BYTES,
    run_no: int | None = None,
) -> LogChunk:
    """Read an archived log exactly like a live one."""
    path = archived_log_path(get_archived_task(project_id, archive_id), run_no)
    return read_log_file(path, offset=offset, max_bytes=max_bytes)


def tail_archived_log(
    project_id: str, archive_id: str, *, lines: int = 100, run_no: int | None = None
) -> LogChunk:
    path = archived_log_path(get_archived_task(project_id, archive_id), run_no)
    return _chunk(logs.tail_lines(path, lines, final=True), _is_truncated(path))
