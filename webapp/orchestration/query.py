"""Read models: what pages, the API and the CLI show of tasks (never a database handle).

Every read is one or two indexed queries on the task records; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webapp.engine.task import TASK_TYPES
from webapp.limits import PAGE_SIZE_MAX, SEARCH_MAX_CHARS
from webapp.orchestration import context, liveness, llm
from webapp.orchestration.errors import (
    InvalidSlashForm,
    InvalidTaskRequest,
    MissingTaskId,
    TaskNotFound,
)
from webapp.orchestration.identity import normalize_task_id_input, split_project_task
from webapp.orchestration.identity import resolve_task_id as _resolve
from webapp.orchestration.projects import project_row
from webapp.orchestration.status import TERMINAL_STATUSES, UI_STATUSES, check_ui_status
from webapp.store import records

_PREFIX_CANDIDATES = 50


@dataclass(frozen=True)
class TaskMeta:
    """One task as shown to users; ``status`` is the derived UI status."""

    project_id: str
    task_id: str
    name: str
    type: str
    payload: str
    description: str
    timeout: float | None
    status: str
    engine_status: str
    exit_code: int | None
    error: str | None
    termination_reason: str | None
    created_at: datetime
    created_by: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_no: int
    run_id: str
    runs: int
    """How many runs the task has had (``run_no`` of the newest)."""
    version: int
    deleting: bool
    stop_requested_by: str | None
    graph_id: str | None = None
    result_output_tail: str = ""
    """The capped tail of the current run's output (detail reads only; "" in lists)."""
    status_reason: str | None = None
    """Why ``status`` is ``unknown`` (single-task reads check "running" against live state)."""
    usage: Any = None
    """The current run's model usage (``llm.RunUsage``: prompt runs, single-task reads)."""

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish; None until the run has finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.started_at).total_seconds())

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def can_stop(self) -> bool:
        return self.status in ("queued", "running", "unknown") and self.graph_id is None

    @property
    def can_retry(self) -> bool:
        return self.is_terminal and self.graph_id is None

    @property
    def ref(self) -> str:
        """``project/task``: the form every CLI verb and URL accepts."""
        return f"{self.project_id}/{self.task_id}"


@dataclass(frozen=True)
class Transition:
    """One recorded status change of a task."""

    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    run_no: int | None
    reason: str | None


@dataclass(frozen=True)
class Run:
    """One execution of a task (a retry adds a run; earlier runs stay listed)."""

    run_no: int
    run_id: str
    status: str
    """The engine status of this run."""
    created_at: datetime
    created_by: str | None
    worker_id: str | None
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    termination_reason: str | None


@dataclass(frozen=True)
class TaskPage:
    """One page of a task list, newest first."""

    items: list[TaskMeta]
    total: int
    limit: int
    offset: int
    total_capped: bool = False
    """True when a search stopped counting at its limit (show the total as "1000+")."""

    @property
    def has_next(self) -> bool:
        if self.total_capped:
            return len(self.items) == self.limit
        return self.offset + len(self.items) < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0


def task_meta_from_row(row: dict[str, Any]) -> TaskMeta:
    parse = records.parse_time
    return TaskMeta(
        project_id=row["project_id"],
        task_id=row["task_id"],
        name=row["name"],
        type=row["type"],
        payload=row["payload"],
        description=row["description"] or "",
        timeout=row["timeout"],
        status=row["status"],
        engine_status=row["engine_status"],
        exit_code=row["exit_code"],
        error=row["error"],
        termination_reason=row["reason"],
        created_at=parse(row["created_at"]),
        created_by=row["created_by"],
        queued_at=parse(row["queued_at"]),
        started_at=parse(row["started_at"]),
        finished_at=parse(row["finished_at"]),
        run_no=row["run_no"],
        run_id=row["run_id"],
        runs=row.get("runs") or row["run_no"],
        version=row["version"],
        deleting=bool(row["deleting"]),
        stop_requested_by=row["stop_requested_by"],
        graph_id=row["graph_id"],
        result_output_tail=row.get("output") or "",
    )


# -- resolving what a user typed ------------------------------------------------------------
def resolve_task_id(project_id: str, prefix: str) -> str:
    """A full task ID from an ID or unique prefix (the three errors of seed 000, plus empty)."""
    if not isinstance(prefix, str):
        raise MissingTaskId(f"Missing task ID for project {project_id}")
    db = context.db()
    project_row(project_id)
    wanted = normalize_task_id_input(prefix)
    candidates = records.task_ids_with_prefix(db, project_id, wanted, _PREFIX_CANDIDATES)
    if not candidates:  # let the resolver tell "no tasks at all" from "no match"
        candidates = records.task_ids_with_prefix(db, project_id, "", 1)
    return _resolve(project_id, prefix, candidates)


def resolve_task_ref(text: str, default_project: str | None = None) -> tuple[str, str]:
    """``project/task`` (or a bare task with ``default_project``) -> (project, full task ID)."""
    if not isinstance(text, str) or not text.strip():
        raise MissingTaskId("Missing task — name it as <project>/<task_id> (e.g. demo/k3v8h)")
    text = text.strip()
    if "/" in text:
        project_id, task = split_project_task(text)
    elif default_project is not None:
        project_id, task = default_project, text
    else:
        raise InvalidSlashForm(
            f"Which project is {text!r} in? Name the task as <project>/<task_id> (e.g. demo/{text})"
        )
    return project_id, resolve_task_id(project_id, task)


def _record(project_id: str, task_id: str, *, with_output: bool = False) -> dict[str, Any]:
    row = records.get_task_record(context.db(), project_id, task_id, with_output=with_output)
    if row is None:
        project_row(project_id)
        raise TaskNotFound(f"Unknown task {task_id} in project {project_id}")
    return row


# -- reads ----------------------------------------------------------------------------------
def get_task_meta(project_id: str, task_id: str, *, with_output: bool = True) -> TaskMeta:
    """One task by its full ID (one indexed read) and its status checked against live state
    (seed 000: ``unknown`` when nothing vouches for a running run); TaskNotFound or
    ProjectNotFound. ``with_output=False`` (what a log poll asks: it never shows them) skips
    the output tail and the usage figures."""
    meta = liveness.hydrate(
        task_meta_from_row(_record(project_id, task_id, with_output=with_output))
    )
    return llm.with_usage(meta) if with_output else meta


task_status = get_task_meta


def _statuses(status: str | Iterable[str] | None) -> tuple[str, ...]:
    if status is None or status == "":
        return ()
    chosen = (status,) if isinstance(status, str) else tuple(status)
    try:
        return tuple(check_ui_status(s) for s in chosen)
    except ValueError as exc:
        raise InvalidTaskRequest(str(exc)) from None


def task_list(
    project_id: str,
    *,
    status: str | Iterable[str] | None = None,
    type: str | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> TaskPage:
    """A page of the project's tasks, newest first, filtered by status, type and text."""
    statuses = _statuses(status)
    if type not in (None, "") and type not in TASK_TYPES:
        raise InvalidTaskRequest(
            f"Unknown task type {type!r}; expected one of: {', '.join(TASK_TYPES)}"
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_SIZE_MAX:
        raise InvalidTaskRequest(f"limit must be between 1 and {PAGE_SIZE_MAX}, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidTaskRequest(f"offset must be 0 or more, got {offset!r}")
    search = (search or "").strip()
    if len(search) > SEARCH_MAX_CHARS:
        raise InvalidTaskRequest(f"search text is limited to {SEARCH_MAX_CHARS} characters")
    db = context.db()
    project_row(project_id)
    rows, total, capped = records.list_task_records(
        db, project_id, statuses=statuses, type=type or None, search=search or None,
        limit=limit, offset=offset,
    )  # fmt: skip
    items = [task_meta_from_row(r) for r in rows]
    return TaskPage(items, total, limit, offset, total_capped=capped)


def get_tasks(project_id: str, reverse: bool = False) -> list[TaskMeta]:
    """Every task of a project sorted by task ID (seed 000's order)."""
    project_row(project_id)
    tasks = [task_meta_from_row(r) for r in records.all_task_records(context.db(), project_id)]
    return tasks[::-1] if reverse else tasks


def get_all_task_states(project_id: str, tasks: Iterable[TaskMeta | str]) -> dict[str, str]:
    """``{task_id: ui status}`` for the given tasks in one query (missing ones left out)."""
    ids = [t.task_id if isinstance(t, TaskMeta) else t for t in tasks]
    return records.task_statuses(context.db(), project_id, ids)


@dataclass(frozen=True)
class TaskDetail:
    """A task with its recorded transitions: what its page shows."""

    task: TaskMeta
    history: list[Transition]


def task_detail(project_id: str, task_id: str) -> TaskDetail:
    """One task and its history in two indexed reads; TaskNotFound/ProjectNotFound."""
    task = get_task_meta(project_id, task_id)
    return TaskDetail(task, _transitions(project_id, task_id))


def task_history(project_id: str, task_id: str) -> list[Transition]:
    """Every recorded transition of a task, oldest first."""
    _record(project_id, task_id)
    return _transitions(project_id, task_id)


def _transitions(project_id: str, task_id: str) -> list[Transition]:
    rows = records.transitions_of(context.db(), project_id, task_id)
    return [
        Transition(
            at=records.parse_time(r["at"]),
            actor=r["actor"],
            from_status=r["from_status"],
            to_status=r["to_status"],
            run_no=r["run_no"],
            reason=r["reason"],
        )
        for r in rows
    ]


def task_runs(project_id: str, task_id: str) -> list[Run]:
    """Every run of a task, oldest first."""
    _record(project_id, task_id)
    parse = records.parse_time
    return [
        Run(
            run_no=r["run_no"],
            run_id=r["run_id"],
            status=r["status"],
            created_at=parse(r["created_at"]),
            created_by=r["created_by"],
            worker_id=r["worker_id"],
            started_at=parse(r["started_at"]),
            finished_at=parse(r["finished_at"]),
            exit_code=r["exit_code"],
            termination_reason=r["reason"],
        )
        for r in records.runs_of(context.db(), project_id, task_id)
    ]


def counts_by_status(project_id: str | None = None) -> dict[str, int]:
    """Tasks per UI status (every status present), for one project or all."""
    counts = dict.fromkeys(UI_STATUSES, 0)
    for (_, status), n in records.status_counts(context.db(), project_id).items():
        counts[status] = counts.get(status, 0) + n
    return counts


def task_version(project_id: str, task_id: str) -> int:
    """Bumped on every change of the task (one indexed read); TaskNotFound once deleted."""
    version = records.task_version(context.db(), project_id, task_id)
    if version is None:
        raise TaskNotFound(f"Unknown task {task_id} in project {project_id}")
    return version
