"""``webapp.storage.sqlite.SQLiteStore``: the seed's path to :class:`webapp.store.SQLiteStore`."""

from webapp.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore"]
