"""The accounts tables' database: opened and migrated here, so rooms above never reach
into ``webapp.store`` for it (the web keeps one connection per request thread)."""

from __future__ import annotations

import os

from sqlite_utils import Database

from webapp.accounts import users
from webapp.store.accounts import accounts_migrations
from webapp.store.db import ThreadDatabases, open_database


def open_accounts(path: str | os.PathLike) -> Database:
    """A new connection with the accounts tables in place (the caller closes it)."""
    return open_database(path, migrations=(accounts_migrations,))


def thread_databases(path: str | os.PathLike) -> ThreadDatabases:
    """One connection per calling thread, kept open for that thread's next requests."""
    return ThreadDatabases(path)


def prepare(path: str | os.PathLike, *, create_first_admin: bool, hasher) -> str | None:
    """Create the accounts tables; on first start with ``create_first_admin``, the admin.

    Returns the generated admin password when one was created (shown once), else None.
    """
    db = open_accounts(path)
    try:
        if not create_first_admin:
            return None
        return users.ensure_first_admin(db, hasher=hasher)
    finally:
        db.close()
