"""TaskGraph: a DAG of tasks with finally/optional members, views and blocked propagation."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any

from webapp.engine.task import Task, TaskStatus

if TYPE_CHECKING:
    from webapp.engine.executor import TaskExecutor


def _label(task: Task) -> str:
    return task.title if task.title else task.id


class TaskGraph:
    """Tasks plus "runs after" edges. Views are fresh lists in insertion order."""

    def __init__(
        self, *, title: str = "", _id: str | None = None, created_at: datetime | None = None
    ) -> None:
        """``_id`` and ``created_at`` are for stores rebuilding a saved graph."""
        if not isinstance(title, str):
            raise TypeError("title must be a str")
        self._id = str(uuid.uuid4()) if _id is None else _id
        self.title = title
        self.created_at = datetime.now() if created_at is None else created_at
        self._tasks: dict[str, Task] = {}
        self._deps: dict[str, tuple[str, ...]] = {}
        self._finally: set[str] = set()
        self._optional: set[str] = set()
        self._errors: dict[str, BaseException] = {}

    @property
    def id(self) -> str:
        return self._id

    # -- construction ------------------------------------------------------------------------
    def add(
        self,
        task: Task,
        *,
        after: Iterable[Task] = (),
        finally_: bool = False,
        required: bool = True,
    ) -> Task:
        """Add ``task`` to run after ``after``; re-adding replaces deps/flags, keeps position.

        ``finally_=True`` runs it once its deps are finished whatever their outcome (it is
        never BLOCKED); ``required=False`` (finally tasks only) keeps its failure out of ``ok``.
        """
        if not isinstance(task, Task):
            raise TypeError(f"Expected Task, got {type(task).__name__}")
        if not isinstance(finally_, bool):
            raise TypeError("finally_ must be a bool")
        if not isinstance(required, bool):
            raise TypeError("required must be a bool")
        if not required and not finally_:
            raise ValueError("required=False is only valid with finally_=True")
        dep_ids: dict[str, None] = {}
        for dep in after:
            if not isinstance(dep, Task):
                raise TypeError(f"Expected Task dependency, got {type(dep).__name__}")
            dep_ids[dep.id] = None
        self._tasks[task.id] = task
        self._deps[task.id] = tuple(dep_ids)
        (self._finally.add if finally_ else self._finally.discard)(task.id)
        (self._optional.discard if required else self._optional.add)(task.id)
        return task

    def __setitem__(self, task: Task, after: Iterable[Task]) -> None:
        self.add(task, after=after)

    def __getitem__(self, task: Task) -> list[Task]:
        return self.dependencies(task)

    def dependencies(self, task: Task) -> list[Task]:
        """The tasks ``task`` runs after (ValueError if one was never added)."""
        if task not in self:
            raise KeyError(task)
        return [self._member(dep_id, task) for dep_id in self._deps[task.id]]

    def _member(self, task_id: str, dependent: Task) -> Task:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise ValueError(
                f"task {_label(dependent)!r} depends on unregistered task id {task_id!r}"
            ) from None

    # -- protocol ----------------------------------------------------------------------------
    def __contains__(self, item: object) -> bool:
        return isinstance(item, Task) and item.id in self._tasks

    def __iter__(self) -> Iterator[Task]:
        return iter(list(self._tasks.values()))

    def __len__(self) -> int:
        return len(self._tasks)

    def items(self) -> list[tuple[Task, list[Task]]]:
        """(task, its dependencies) pairs in insertion order."""
        return [(task, self.dependencies(task)) for task in self._tasks.values()]

    def edges(self) -> list[tuple[str, str]]:
        """(dependency id, task id) pairs, in insertion then declaration order."""
        return [(dep, task_id) for task_id, deps in self._deps.items() for dep in deps]

    def __repr__(self) -> str:
        def name(task_id: str) -> str:
            task = self._tasks.get(task_id)
            return _label(task) if task is not None else f"<unregistered {task_id}>"

        edges = ", ".join(f"{name(dep)}->{name(task_id)}" for dep, task_id in self.edges())
        return f"TaskGraph({len(self._tasks)} tasks, edges=[{edges}])"

    # -- topology ----------------------------------------------------------------------------
    def roots(self) -> list[Task]:
        return [t for t in self._tasks.values() if not self._deps[t.id]]

    def leaves(self) -> list[Task]:
        used = {dep for deps in self._deps.values() for dep in deps}
        return [t for t in self._tasks.values() if t.id not in used]

    def is_finally(self, task: Task) -> bool:
        return task.id in self._finally

    def is_optional(self, task: Task) -> bool:
        return task.id in self._optional

    @property
    def finally_tasks(self) -> list[Task]:
        return [t for t in self._tasks.values() if t.id in self._finally]

    @property
    def optional_tasks(self) -> list[Task]:
        return [t for t in self._tasks.values() if t.id in self._optional]

    @property
    def required_tasks(self) -> list[Task]:
        return [t for t in self._tasks.values() if t.id not in self._optional]

    # -- outcome views -----------------------------------------------------------------------
    def _with(self, status: TaskStatus, tasks: Iterable[Task] | None = None) -> list[Task]:
        return [t for t in (self._tasks.values() if tasks is None else tasks) if t.status is status]

    @property
    def succeeded(self) -> list[Task]:
        return self._with(TaskStatus.DONE)

    done = succeeded

    @property
    def failed(self) -> list[Task]:
        return self._with(TaskStatus.FAILED)

    @property
    def cancelled(self) -> list[Task]:
        return self._with(TaskStatus.CANCELLED)

    @property
    def blocked(self) -> list[Task]:
        return self._with(TaskStatus.BLOCKED)

    @property
    def optional_failed(self) -> list[Task]:
        return self._with(TaskStatus.FAILED, self.optional_tasks)

    @property
    def required_failed(self) -> list[Task]:
        return self._with(TaskStatus.FAILED, self.required_tasks)

    @property
    def required_blocked(self) -> list[Task]:
        return self._with(TaskStatus.BLOCKED, self.required_tasks)

    @property
    def errors(self) -> dict[str, BaseException]:
        """What execute() raised, by task id, in the latest run."""
        return dict(self._errors)

    @property
    def ok(self) -> bool:
        """Every required task is DONE and raised nothing in the latest run."""
        return all(
            t.status is TaskStatus.DONE and t.id not in self._errors for t in self.required_tasks
        )

    # -- running -----------------------------------------------------------------------------
    def run(self, executor: TaskExecutor, max_workers: int = 4) -> TaskGraph:
        """Run every runnable task, at most ``max_workers`` at once; returns the graph.

        DONE tasks count as satisfied and are not run again; FAILED ones are retried;
        tasks BLOCKED before the run are retried once their parents succeed.
        """
        from webapp.engine.scheduler import GraphRun

        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        plan = GraphRun(self, executor, max_workers)  # validates: RUNNING, unregistered, cycle
        self._errors.clear()
        self._save(executor)
        try:
            plan.run(self._errors)
        finally:
            self._save(executor)
        return self

    def _save(self, executor: Any) -> None:
        store = getattr(executor, "store", None)
        if store is None:
            return
        try:
            store.graphs.save(self)
        except Exception as exc:
            executor.graph_persistence_errors.append((self.id, exc))
            with suppress(Warning):
                warnings.warn(
                    f"graph persistence failed for graph {self.id!r}: {exc}", stacklevel=3
                )
