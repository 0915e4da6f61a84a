"""Stores: the only place that touches SQLite. ``Store`` is the protocol both backends meet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webapp.store.base import GraphCollection, Store, TaskCollection
from webapp.store.memory import InMemoryGraphCollection, InMemoryStore, InMemoryTaskCollection

if TYPE_CHECKING:
    from webapp.store.sqlite import SQLiteStore

__all__ = [
    "GraphCollection",
    "InMemoryGraphCollection",
    "InMemoryStore",
    "InMemoryTaskCollection",
    "SQLiteStore",
    "Store",
    "TaskCollection",
]


def __getattr__(name: str) -> Any:
    # SQLiteStore pulls in sqlite-utils; import it on first use only.
    if name == "SQLiteStore":
        from webapp.store.sqlite import SQLiteStore

        return SQLiteStore
    raise AttributeError(f"module 'webapp.store' has no attribute {name!r}")
