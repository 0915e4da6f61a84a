"""InMemoryStore: live references in insertion order, the reference Store."""

from __future__ import annotations

import threading
from collections.abc import Iterator, MutableMapping
from typing import Generic, TypeVar

from webapp.engine import Task, TaskGraph

T = TypeVar("T", Task, TaskGraph)


class _InMemoryCollection(MutableMapping[str, T], Generic[T]):
    """A dict keyed by each object's own id; ``in`` accepts an id or the object."""

    _kind: type
    _key_name: str
    _noun: str

    def __init__(self) -> None:
        self._items: dict[str, T] = {}
        self._lock = threading.Lock()

    def save(self, item: T) -> None:
        """Store ``item`` under its own id (the canonical write)."""
        self._check(item)
        with self._lock:
            self._items[item.id] = item

    def _check(self, item: object) -> None:
        if not isinstance(item, self._kind):
            raise TypeError(f"Expected {self._kind.__name__}, got {type(item).__name__}")

    def __setitem__(self, key: str, item: T) -> None:
        self._check(item)
        if key != item.id:
            raise ValueError(f"{self._key_name} must match {self._noun[:-1]}.id")
        with self._lock:
            self._items[key] = item

    def __getitem__(self, key: str) -> T:
        return self._items[key]

    def __delitem__(self, key: str) -> None:
        with self._lock:
            del self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, self._kind):
            key = key.id
        return isinstance(key, str) and key in self._items

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._items)} {self._noun})"


class InMemoryTaskCollection(_InMemoryCollection[Task]):
    """``store.tasks`` of an InMemoryStore."""

    _kind, _key_name, _noun = Task, "task_id", "tasks"

    def cancel(self, task_id: str) -> None:
        """Cancel the stored live task in place (no result, no event: use executor.cancel)."""
        self[task_id].cancel()


class InMemoryGraphCollection(_InMemoryCollection[TaskGraph]):
    """``store.graphs`` of an InMemoryStore."""

    _kind, _key_name, _noun = TaskGraph, "graph_id", "graphs"


class InMemoryStore:
    """Keeps live references: ``store.tasks[t.id] is t``."""

    def __init__(self) -> None:
        self._tasks = InMemoryTaskCollection()
        self._graphs = InMemoryGraphCollection()

    @property
    def tasks(self) -> InMemoryTaskCollection:
        return self._tasks

    @property
    def graphs(self) -> InMemoryGraphCollection:
        return self._graphs

    def __repr__(self) -> str:
        return f"InMemoryStore({len(self._tasks)} tasks, {len(self._graphs)} graphs)"
