"""Opening SQLite databases the documented sqlite-utils way, one ``Database`` per thread.

``open_database(path)`` opens a new, configured ``Database``: WAL journal, a 30 s busy
timeout, ``synchronous=NORMAL`` and foreign keys on. The caller owns it (a web request keeps it
on ``g`` and closes it at teardown). ``ThreadDatabases(path)`` hands each calling thread its
own lazily opened ``Database`` for one path, which is what a store or a worker thread uses;
each is closed when its thread ends, and the rest when the ``ThreadDatabases`` is dropped
(never left to the garbage collector, which warns about an unclosed database since 3.13).

``":memory:"`` becomes a private shared-cache URI (``memory_uri()``) kept alive by an anchor
connection for as long as the ``ThreadDatabases`` lives, so every thread sees the same data
while two ``":memory:"`` stores stay isolated. SQLite reports "table is locked" on a shared
cache instead of waiting, so callers serialise their work on one with ``ThreadDatabases.lock``.

Schema: each concern owns its tables as its own ``Migrations("webapp.<concern>")`` set in its
own module and applies it on open::

    databases = ThreadDatabases(path, migrations=(engine_migrations, records_migrations))
    db = open_database(path, migrations=(records_migrations,))
    apply_migrations(db, records_migrations)  # the same, on a Database you already hold

All sets are applied in one ``BEGIN IMMEDIATE`` transaction, so processes opening a fresh file
at the same time do not race; their migrations must therefore be transactional.

Writes that read before they write (the worker's claim) use ``with immediate(db): ...``, which
takes the write lock up front instead of failing to upgrade a read transaction.

Faults: ``fault_of(error)`` tells a passing fault (locked, read-only, unopenable, full) from a
bug. SQLite keeps a connection opened while its file was read-only read-only for good, so a
``ThreadDatabases`` reopens such a connection once the file is writable again, and
``forget_thread_connections()`` drops the calling thread's connections after a fault.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

BUSY_TIMEOUT_MS = 30_000
FAULTS = {
    sqlite3.SQLITE_BUSY: "locked",
    sqlite3.SQLITE_LOCKED: "locked",
    sqlite3.SQLITE_READONLY: "read-only",
    sqlite3.SQLITE_CANTOPEN: "not openable",
    sqlite3.SQLITE_IOERR: "not accessible",
    sqlite3.SQLITE_FULL: "full",
    sqlite3.SQLITE_PERM: "read-only",
}
MEMORY = ":memory:"
_MEMORY_URI = "file:{name}?mode=memory&cache=shared"


def set_busy_timeout(seconds: float) -> None:
    """How long connections opened from now on wait for another's write lock (the
    ``DATABASE_BUSY_TIMEOUT`` setting) before a write fails as locked."""
    global BUSY_TIMEOUT_MS
    BUSY_TIMEOUT_MS = max(0, int(float(seconds) * 1000))


def fault_of(error: BaseException) -> str | None:
    """What passing fault of the database file ``error`` reports ("locked", "read-only", ...),
    or None when it is not one (a bug, a constraint, a corrupt file)."""
    if not isinstance(error, sqlite3.OperationalError):
        return None
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return FAULTS.get(code & 0xFF)
    text = str(error).lower()  # errors raised by Python's module itself carry no code
    if "locked" in text:
        return "locked"
    return "read-only" if "readonly" in text or "read-only" in text else None


def _writable(target: str) -> bool:
    """Whether this process may write the database file and its WAL companions now (what
    SQLite asks when it opens a connection: a read-only open stays read-only)."""
    if is_memory(target):
        return True
    paths = [target, f"{target}-wal", f"{target}-shm"]
    return all(os.access(path, os.W_OK) for path in paths if os.path.exists(path))


def memory_uri() -> str:
    """A fresh shared-cache in-memory database URI that no other store uses."""
    return _MEMORY_URI.format(name=f"webapp-{secrets.token_hex(8)}")


def _memory_name(target: str) -> str | None:
    """The shared-cache name inside a URI from ``memory_uri()``, else None."""
    if target.startswith("file:") and target.endswith("?mode=memory&cache=shared"):
        return target[len("file:") : -len("?mode=memory&cache=shared")]
    return None


def is_memory(target: str | os.PathLike) -> bool:
    """True for ``":memory:"`` and for URIs made by ``memory_uri()``."""
    target = os.fspath(target)
    return target == MEMORY or _memory_name(target) is not None


def open_database(
    path: str | os.PathLike, *, migrations: Iterable[Migrations] = (), any_thread: bool = False
) -> Database:
    """Open and configure a new ``Database`` for a file, ``":memory:"`` or a ``memory_uri()``.

    Missing parent directories of a file are created. ``migrations`` are applied before return.
    ``any_thread``: the connection may be closed from another thread than the one using it.
    """
    target = os.fspath(path)
    name = _memory_name(target)
    if name is not None:
        db = Database(memory_name=name)
    elif target == MEMORY:
        db = Database(memory=True)
    else:
        if not target:
            raise ValueError("database path must not be empty")
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        db = Database(sqlite3.connect(target, check_same_thread=False) if any_thread else target)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not is_memory(target):
        db.enable_wal()
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    apply_migrations(db, *migrations)
    return db


def apply_migrations(db: Database, *sets: Migrations) -> None:
    """Apply every pending migration of each set, in order, in one ``BEGIN IMMEDIATE``."""
    if not sets:
        return
    with immediate(db):
        for migrations in sets:
            migrations.apply(db)


@contextlib.contextmanager
def immediate(db: Database) -> Iterator[Database]:
    """A write transaction that starts with ``BEGIN IMMEDIATE`` (the write lock, waiting up
    to the busy timeout); commits on success, rolls back on any exception. Inside an open
    transaction it becomes a savepoint of that transaction."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise


class _OpenDatabases:
    """The connections a ThreadDatabases opened and has not closed yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[Database] = set()

    def add(self, db: Database) -> None:
        with self._lock:
            self._open.add(db)

    def close(self, db: Database) -> None:
        with self._lock:
            self._open.discard(db)
        db.close()

    def close_all(self) -> None:
        with self._lock:
            left, self._open = self._open, set()
        for db in left:
            db.close()


class _ThreadDatabase:
    """A thread's connection, kept in a thread-local: closed when its thread ends (the
    thread's locals are released then) or when replaced."""

    __slots__ = ("db", "opened", "writable")

    def __init__(self, db: Database, opened: _OpenDatabases, writable: bool = True) -> None:
        self.db, self.opened, self.writable = db, opened, writable

    def __del__(self) -> None:
        self.opened.close(self.db)


class ThreadDatabases:
    """The calling thread's ``Database`` for one path, opened on first use in each thread.

    A thread's connection is closed when the thread ends, every other one when this object
    is dropped (or the process exits); ``close()`` closes the calling thread's one (and the
    anchor of a memory database) now.
    """

    def __init__(self, path: str | os.PathLike, *, migrations: Iterable[Migrations] = ()):
        self.path = os.fspath(path)
        self.memory = is_memory(self.path)
        if self.memory:
            self.target = memory_uri() if self.path == MEMORY else self.path
        else:  # every thread opens the same file, whatever the working directory becomes
            self.target = os.path.abspath(self.path) if self.path else self.path
        self.lock = threading.RLock() if self.memory else contextlib.nullcontext()
        self._local = threading.local()
        self._opened = _OpenDatabases()
        self._anchor = self._open() if self.memory else None
        weakref.finalize(self, self._opened.close_all)  # also runs at exit
        _LIVE.add(self)
        with self.lock:
            apply_migrations(self.get(), *migrations)

    def _open(self) -> Database:
        db = open_database(self.target, any_thread=True)  # closable from the finalizer
        self._opened.add(db)
        return db

    def get(self) -> Database:
        """This thread's ``Database``, opened and configured on first use."""
        mine = getattr(self._local, "db", None)
        if mine is not None and not mine.writable and _writable(self.target):
            self.forget()  # opened during a read-only fault, which has ended
            mine = None
        if mine is None:
            writable = _writable(self.target)
            mine = self._local.db = _ThreadDatabase(self._open(), self._opened, writable)
        return mine.db

    def forget(self) -> None:
        """Close the calling thread's connection (not a memory anchor); the next ``get()``
        opens a fresh one. What to do after a fault: the connection may be stuck in it."""
        mine = getattr(self._local, "db", None)
        if mine is not None and not self.memory:
            self._local.db = None
            self._opened.close(mine.db)

    def close(self) -> None:
        """Close the calling thread's connection, and the anchor that keeps memory alive."""
        mine = getattr(self._local, "db", None)
        if mine is not None:
            self._local.db = None
            self._opened.close(mine.db)
        if self._anchor is not None:
            self._opened.close(self._anchor)
            self._anchor = None

    def __repr__(self) -> str:
        return f"ThreadDatabases({self.path})"


_LIVE: weakref.WeakSet[ThreadDatabases] = weakref.WeakSet()


def forget_thread_connections() -> None:
    """Drop the calling thread's connection of every ``ThreadDatabases`` (after a fault)."""
    for databases in list(_LIVE):
        databases.forget()
