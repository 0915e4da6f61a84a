"""Database faults answered as 503: a locked, read-only or unreachable database file is a
passing condition, not a server bug. The page (or JSON error) names the problem and carries
``Retry-After``; the thread's connections are dropped so the next request opens fresh ones
(a connection opened during a read-only spell would otherwise stay read-only for good).
"""

from __future__ import annotations

import sqlite3

from flask import Flask, current_app
from werkzeug.exceptions import InternalServerError, ServiceUnavailable

from webapp.orchestration import database_faults as store_db

RETRY_AFTER_SECONDS = 5
EXPLANATIONS = {
    "locked": "another process holds the database's write lock longer than this request could wait",
    "read-only": "the database file cannot be written (its permissions or file system are "
    "read-only)",
    "not openable": "the database file cannot be opened",
    "not accessible": "the database file cannot be read or written (an I/O error)",
    "full": "the disk holding the database is full",
}


class DatabaseUnavailable(ServiceUnavailable):
    name = "Database unavailable"


def unavailable(fault: str):
    """The 503 response for a fault, rendered like every other error."""
    from webapp.web.errors import render_error

    error = DatabaseUnavailable(
        f"The database is {fault}: {EXPLANATIONS.get(fault, fault)}. Nothing was changed by "
        f"this request; try again in a few seconds.",
        retry_after=RETRY_AFTER_SECONDS,
    )
    return render_error(error)


def database_error(error: sqlite3.Error):
    """A passing fault becomes a 503; anything else stays the server error it is."""
    fault = store_db.fault_of(error)
    if fault is None:
        raise error
    store_db.forget_thread_connections()
    current_app.logger.warning("database %s: %s", fault, error)
    return unavailable(fault)


def server_error(error: InternalServerError):
    """Faults raised outside a view (an after_request hook's write) are 503s too."""
    original = getattr(error, "original_exception", None)
    fault = store_db.fault_of(original) if original is not None else None
    if fault is not None:
        store_db.forget_thread_connections()
        return unavailable(fault)
    from webapp.web.errors import render_error

    return render_error(error)


def init_app(app: Flask) -> None:
    store_db.set_busy_timeout(app.config["DATABASE_BUSY_TIMEOUT"])
    app.register_error_handler(sqlite3.OperationalError, database_error)
    app.register_error_handler(InternalServerError, server_error)
