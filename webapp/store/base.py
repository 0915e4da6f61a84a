"""The Store protocol: the one seam between live tasks/graphs and a durable backend."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Protocol, runtime_checkable

from webapp.engine import Task, TaskGraph


@runtime_checkable
class TaskCollection(Protocol):
    """``store.tasks``: a MutableMapping of task id -> Task with ``save`` and ``cancel``."""

    def save(self, task: Task) -> None: ...

    def cancel(self, task_id: str) -> None: ...

    def __getitem__(self, task_id: str) -> Task: ...

    def __contains__(self, key: object) -> bool: ...


@runtime_checkable
class GraphCollection(Protocol):
    """``store.graphs``: a MutableMapping of graph id -> TaskGraph with ``save``."""

    def save(self, graph: TaskGraph) -> None: ...

    def __getitem__(self, graph_id: str) -> TaskGraph: ...

    def __contains__(self, key: object) -> bool: ...


@runtime_checkable
class Store(Protocol):
    """Anything with ``tasks`` and ``graphs`` collections keyed by the objects' own ids."""

    @property
    def tasks(self) -> MutableMapping[str, Task]: ...

    @property
    def graphs(self) -> MutableMapping[str, TaskGraph]: ...
