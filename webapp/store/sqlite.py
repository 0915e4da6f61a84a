"""SQLiteStore: the durable Store, with the same mapping surface as InMemoryStore.

Reads return detached snapshots: a loaded object is new, and changing it writes nothing back
until it is saved. ``TaskResult.raw`` is not stored and loads as None. Tasks and graphs
iterate ``ORDER BY created_at, id``. Deleting a task also removes it and its edges from every
stored graph; deleting a graph leaves its member tasks.

Every thread works on its own connection (``ThreadDatabases``); several processes may share
one file (WAL, busy timeout). Writes run in ``BEGIN IMMEDIATE`` transactions; a task save is
two statements on a warm connection.

Server hook: a subclass overrides ``_after_task_save(db, task, previous_status)`` to write its
own rows (a task record's status, a transitions log) with ``db``. It runs inside the save's
transaction, once per task written (``tasks.save``, ``tasks.cancel`` and each member of
``graphs.save``), with the status stored before (None for a new task; equal to
``task.status`` when the save changed no status, as graph saves often do); if it raises, the
whole save is rolled back. ``store.db`` is the calling thread's Database for other work.

Loading uses the engine's store seams: ``Task(..., _id=, created_at=)``, ``set_result``,
``_set_blocked_by``, ``_restore_status`` and ``TaskGraph(title=, _id=, created_at=)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, MutableMapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from webapp.engine.graph import TaskGraph
from webapp.engine.task import Task, TaskResult, TaskStatus, TaskType
from webapp.store.db import ThreadDatabases, immediate
from webapp.store.schema import ensure_engine_schema

_TASK_COLUMNS = ("id", "title", "description", "payload", "type", "status", "error", "timeout")
_TASK_COLUMNS += ("blocked_by", "created_at")
_RESULT_COLUMNS = ("status", "started_at", "finished_at", "duration", "output", "error")
_RESULT_COLUMNS += ("returncode", "termination_reason")


def _upsert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns[1:])
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO UPDATE SET {updates}"


_UPSERT_TASK = _upsert_sql("tasks", _TASK_COLUMNS)
_UPSERT_RESULT = _upsert_sql("task_results", ("task_id", *_RESULT_COLUMNS))
_DELETE_RESULT = "DELETE FROM task_results WHERE task_id = ?"
_SELECT_TASK = "SELECT {} FROM tasks t LEFT JOIN task_results r ON r.task_id = t.id".format(
    ", ".join([f"t.{c}" for c in _TASK_COLUMNS] + [f"r.{c}" for c in _RESULT_COLUMNS])
)
_IDS = "SELECT value FROM json_each(?)"


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="microseconds")


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _task_row(task: Task) -> tuple:
    timeout = None if task.timeout is None else float(task.timeout)
    kind, status, created = task.type.value, task.status.value, _text(task.created_at)
    return (
        *(task.id, task.title, task.description, task.payload, kind, status, task.error),
        *(timeout, task.blocked_by, created),
    )


def _result_row(task_id: str, result: TaskResult) -> tuple:
    started, finished = _text(result.started_at), _text(result.finished_at)
    return (
        *(task_id, result.status.value, started, finished, result.duration, result.output),
        *(result.error, result.returncode, result.termination_reason),
    )


def _restore(task: Task, status: TaskStatus, result: TaskResult | None, blocked_by: str | None):
    """Put a loaded task back in its stored state without replaying the state machine."""
    task.set_result(result)
    task._set_blocked_by(blocked_by)
    task._restore_status(status)


def _load_task(row: tuple) -> Task:
    """A detached Task from one ``_SELECT_TASK`` row."""
    task_id, title, description, payload, kind, status, error, timeout = row[:8]
    blocked_by, created = row[8:10]
    task = Task(
        title,
        payload,
        TaskType(kind),
        description=description,
        error=error,
        timeout=timeout,
        _id=task_id,
        created_at=_moment(created),
    )
    result = None
    if row[10] is not None:
        r_status, started, finished, duration, output, r_error, returncode, reason = row[10:]
        result = TaskResult(
            task_id=task_id,
            status=TaskStatus(r_status),
            started_at=_moment(started),
            finished_at=_moment(finished),
            duration=duration,
            output=output,
            error=r_error,
            returncode=returncode,
            raw=None,
            termination_reason=reason,
        )
    _restore(task, TaskStatus(status), result, blocked_by)
    return task


def _key(value: object, kind: type) -> str | None:
    """The id a mapping key or object stands for, or None if it cannot be one."""
    if isinstance(value, kind):
        return value.id
    return value if isinstance(value, str) else None


class _Collection(MutableMapping):
    """Shared plumbing: the store, its lock, its table and the per-thread Database."""

    _table = ""
    _noun = ""

    def __init__(self, store: SQLiteStore):
        self._store = store

    def _ids(self, db: Database) -> list[str]:
        sql = f"SELECT id FROM {self._table} ORDER BY created_at, id"
        return [row[0] for row in db.execute(sql).fetchall()]

    def __iter__(self) -> Iterator[str]:
        with self._store._databases.lock:
            return iter(self._ids(self._store.db))

    def __len__(self) -> int:
        with self._store._databases.lock:
            return self._store.db.execute(f"SELECT count(*) FROM {self._table}").fetchone()[0]

    def _exists(self, key: str | None) -> bool:
        if key is None:
            return False
        with self._store._databases.lock:
            sql = f"SELECT 1 FROM {self._table} WHERE id = ?"
            return self._store.db.execute(sql, [key]).fetchone() is not None

    def __delitem__(self, key: str) -> None:
        if not isinstance(key, str):
            raise KeyError(key)
        with self._store._databases.lock, immediate(self._store.db) as db:
            deleted = db.execute(f"DELETE FROM {self._table} WHERE id = ?", [key]).rowcount
        if not deleted:
            raise KeyError(key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} {self._noun})"


class SQLiteTaskCollection(_Collection):
    """``store.tasks``: Task snapshots by id."""

    _table, _noun = "tasks", "tasks"

    def __getitem__(self, task_id: str) -> Task:
        if not isinstance(task_id, str):
            raise KeyError(task_id)
        with self._store._databases.lock:
            row = self._store.db.execute(f"{_SELECT_TASK} WHERE t.id = ?", [task_id]).fetchone()
        if row is None:
            raise KeyError(task_id)
        return _load_task(row)

    def __setitem__(self, task_id: str, task: Task) -> None:
        if not isinstance(task, Task):
            raise TypeError(f"Expected Task, got {type(task).__name__}")
        if task_id != task.id:
            raise ValueError("task_id must match task.id")
        self.save(task)

    def __contains__(self, key: object) -> bool:
        return self._exists(_key(key, Task))

    def save(self, task: Task) -> None:
        """Insert or update the task and its result (or drop a stale result), atomically."""
        if not isinstance(task, Task):
            raise TypeError(f"Expected Task, got {type(task).__name__}")
        with self._store._databases.lock, immediate(self._store.db) as db:
            self._store._write_tasks(db, [task])

    def cancel(self, task_id: str) -> None:
        """Cancel the stored task (``Task.cancel`` rules: no result, no event) and save it."""
        with self._store._databases.lock, immediate(self._store.db) as db:
            task = self[task_id]
            task.cancel()
            self._store._write_tasks(db, [task])

    def values(self) -> list[Task]:  # one query instead of one per task
        with self._store._databases.lock:
            rows = self._store.db.execute(f"{_SELECT_TASK} ORDER BY t.created_at, t.id")
            return [_load_task(row) for row in rows.fetchall()]

    def items(self) -> list[tuple[str, Task]]:
        return [(task.id, task) for task in self.values()]


class SQLiteGraphCollection(_Collection):
    """``store.graphs``: TaskGraph snapshots by id, members and edges in stored order."""

    _table, _noun = "graphs", "graphs"

    def __getitem__(self, graph_id: str) -> TaskGraph:
        if not isinstance(graph_id, str):
            raise KeyError(graph_id)
        with self._store._databases.lock, self._store.db.atomic() as db:  # one snapshot
            graph_row = db.execute(
                "SELECT id, title, created_at FROM graphs WHERE id = ?", [graph_id]
            ).fetchone()
            if graph_row is None:
                raise KeyError(graph_id)
            members = db.execute(
                f"SELECT g.is_finally, g.is_optional, {_SELECT_TASK[len('SELECT ') :]}"
                " JOIN graph_tasks g ON g.task_id = t.id WHERE g.graph_id = ?"
                " ORDER BY g.position",
                [graph_id],
            ).fetchall()
            edges = db.execute(
                "SELECT task_id, dependency_id FROM graph_dependencies WHERE graph_id = ?"
                " ORDER BY position",
                [graph_id],
            ).fetchall()
        return _load_graph(graph_row, members, edges)

    def __setitem__(self, graph_id: str, graph: TaskGraph) -> None:
        if not isinstance(graph, TaskGraph):
            raise TypeError(f"Expected TaskGraph, got {type(graph).__name__}")
        if graph_id != graph.id:
            raise ValueError("graph_id must match graph.id")
        self.save(graph)

    def __contains__(self, key: object) -> bool:
        return self._exists(_key(key, TaskGraph))

    def save(self, graph: TaskGraph) -> None:
        """Store the graph, every member task and result, membership and edges in ONE
        transaction: if any part fails, nothing of it is written."""
        if not isinstance(graph, TaskGraph):
            raise TypeError(f"Expected TaskGraph, got {type(graph).__name__}")
        members = list(graph)
        membership, edges = [], []
        for position, task in enumerate(members):
            flags = (int(graph.is_finally(task)), int(graph.is_optional(task)))
            membership.append((graph.id, task.id, *flags, position))
            for dep_position, dep in enumerate(graph.dependencies(task)):  # ValueError if unknown
                edges.append((graph.id, task.id, dep.id, dep_position))
        graph_row = (graph.id, graph.title, _text(graph.created_at))
        with self._store._databases.lock, immediate(self._store.db) as db:
            self._store._write_tasks(db, members)
            db.execute(_upsert_sql("graphs", ("id", "title", "created_at")), graph_row)
            db.execute("DELETE FROM graph_dependencies WHERE graph_id = ?", [graph.id])
            db.execute("DELETE FROM graph_tasks WHERE graph_id = ?", [graph.id])
            columns = ("graph_id", "task_id", "is_finally", "is_optional", "position")
            db["graph_tasks"].insert_all(dict(zip(columns, row, strict=True)) for row in membership)
            columns = ("graph_id", "task_id", "dependency_id", "position")
            db["graph_dependencies"].insert_all(
                dict(zip(columns, row, strict=True)) for row in edges
            )

    def values(self) -> list[TaskGraph]:
        with self._store._databases.lock:
            ids = self._ids(self._store.db)
        return [graph for graph_id in ids if (graph := self.get(graph_id)) is not None]

    def items(self) -> list[tuple[str, TaskGraph]]:
        return [(graph.id, graph) for graph in self.values()]


def _load_graph(graph_row: tuple, members: list[tuple], edges: list[tuple]) -> TaskGraph:
    """A detached TaskGraph from its row, its member rows (in order) and its edges."""
    graph_id, title, created = graph_row
    tasks = {}
    flags = {}
    for row in members:
        task = _load_task(row[2:])
        tasks[task.id] = task
        flags[task.id] = (bool(row[0]), bool(row[1]))
    deps: dict[str, list[Task]] = {task_id: [] for task_id in tasks}
    for task_id, dependency_id in edges:
        deps[task_id].append(tasks[dependency_id])
    graph = TaskGraph(title=title, _id=graph_id, created_at=_moment(created))
    for task_id, task in tasks.items():
        is_finally, is_optional = flags[task_id]
        graph.add(task, after=deps[task_id], finally_=is_finally, required=not is_optional)
    return graph


class SQLiteStore:
    """The Store protocol on one SQLite file (or a private ``":memory:"`` database)."""

    def __init__(self, path: str | os.PathLike, *, allow_destructive_migration: bool = False):
        self.path = os.fspath(path)
        self._databases = ThreadDatabases(self.path)
        with self._databases.lock:
            ensure_engine_schema(
                self.db,
                allow_destructive_migration=allow_destructive_migration,
                where=self.path,
            )
        self.tasks = SQLiteTaskCollection(self)
        self.graphs = SQLiteGraphCollection(self)
        self._hooked = type(self)._after_task_save is not SQLiteStore._after_task_save

    @property
    def db(self) -> Database:
        """The calling thread's Database (on ``":memory:"``, hold ``store.lock`` to use it)."""
        return self._databases.get()

    @property
    def lock(self) -> Any:
        """Serialises work on a memory database; a no-op context for files."""
        return self._databases.lock

    def _after_task_save(self, db: Database, task: Task, previous_status: TaskStatus | None):
        """Server hook, called inside the save transaction after ``task``'s rows are written."""

    def _write_tasks(self, db: Database, tasks: list[Task]) -> None:
        """Upsert each task and its result inside the caller's transaction, then run the hook."""
        previous: dict[str, TaskStatus] = {}
        if self._hooked:
            ids = json.dumps([task.id for task in tasks])
            sql = f"SELECT id, status FROM tasks WHERE id IN ({_IDS})"
            previous = {row[0]: TaskStatus(row[1]) for row in db.execute(sql, [ids])}
        for task in tasks:
            db.execute(_UPSERT_TASK, _task_row(task))
            result = task.result
            if result is None:
                db.execute(_DELETE_RESULT, [task.id])
            else:
                db.execute(_UPSERT_RESULT, _result_row(task.id, result))
            if self._hooked:
                self._after_task_save(db, task, previous.get(task.id))

    def close(self) -> None:
        """Close this thread's connection (and release a memory database)."""
        self._databases.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path})"
