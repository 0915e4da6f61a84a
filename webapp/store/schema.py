"""The engine's tables, as the sqlite-utils migration set ``"webapp.engine"``.

``ensure_engine_schema(db)`` checks and applies it in one ``BEGIN IMMEDIATE`` transaction.
The schema version of a database is the list of this set's migrations recorded in
``_sqlite_migrations``. A database whose engine tables exist but whose recorded migrations are
missing, or include one this code does not know (a newer release wrote it), is refused with a
``RuntimeError``; ``allow_destructive_migration=True`` drops the engine tables and rebuilds them
empty instead, with a ``UserWarning``. Tables of other sets are left alone.

Timestamps are naive ISO-8601 strings with microseconds, so text order is time order.
"""

from __future__ import annotations

import warnings

from sqlite_utils import Database
from sqlite_utils.db import ForeignKey
from sqlite_utils.migrations import Migrations

from webapp.store.db import immediate

engine_migrations = Migrations("webapp.engine")

# Children first, so that dropping them in this order never trips a foreign key.
ENGINE_TABLES = ("graph_dependencies", "graph_tasks", "task_results", "graphs", "tasks")


def _cascade(table: str, column: str, other_table: str, other_column: str) -> ForeignKey:
    return ForeignKey(table, column, other_table, other_column, on_delete="CASCADE")


@engine_migrations()
def m001_engine_tables(db: Database) -> None:
    """tasks, task_results, graphs, graph_tasks and graph_dependencies, with their indexes."""
    db["tasks"].create(
        {
            "id": str,
            "title": str,
            "description": str,
            "payload": str,
            "type": str,
            "status": str,
            "error": str,
            "timeout": float,
            "blocked_by": str,
            "created_at": str,
        },
        pk="id",
        not_null={"title", "description", "payload", "type", "status", "created_at"},
        if_not_exists=True,
    )
    db["tasks"].create_index(["created_at", "id"], if_not_exists=True)
    db["tasks"].create_index(["status"], if_not_exists=True)
    db["task_results"].create(
        {
            "task_id": str,
            "status": str,
            "started_at": str,
            "finished_at": str,
            "duration": float,
            "output": str,
            "error": str,
            "returncode": int,
            "termination_reason": str,
        },
        pk="task_id",
        not_null={"status", "output"},
        foreign_keys=[_cascade("task_results", "task_id", "tasks", "id")],
        if_not_exists=True,
    )
    db["graphs"].create(
        {"id": str, "title": str, "created_at": str},
        pk="id",
        not_null={"title", "created_at"},
        if_not_exists=True,
    )
    db["graphs"].create_index(["created_at", "id"], if_not_exists=True)
    db["graph_tasks"].create(
        {"graph_id": str, "task_id": str, "is_finally": int, "is_optional": int, "position": int},
        pk=("graph_id", "task_id"),
        not_null={"is_finally", "is_optional", "position"},
        foreign_keys=[
            _cascade("graph_tasks", "graph_id", "graphs", "id"),
            _cascade("graph_tasks", "task_id", "tasks", "id"),
        ],
        if_not_exists=True,
    )
    db["graph_tasks"].create_index(["task_id"], if_not_exists=True)
    db["graph_dependencies"].create(
        {"graph_id": str, "task_id": str, "dependency_id": str, "position": int},
        pk=("graph_id", "task_id", "dependency_id"),
        not_null={"position"},
        foreign_keys=[
            _cascade("graph_dependencies", "graph_id", "graphs", "id"),
            _cascade("graph_dependencies", "task_id", "tasks", "id"),
            _cascade("graph_dependencies", "dependency_id", "tasks", "id"),
        ],
        if_not_exists=True,
    )
    db["graph_dependencies"].create_index(["task_id"], if_not_exists=True)
    db["graph_dependencies"].create_index(["dependency_id"], if_not_exists=True)


KNOWN_MIGRATIONS = (m001_engine_tables.__name__,)


def schema_version(db: Database) -> list[str]:
    """The names of this set's migrations recorded as applied, oldest first."""
    return [migration.name for migration in engine_migrations.applied(db)]


def _schema_problem(db: Database) -> str | None:
    """Why this database's engine tables cannot be used as they are, or None if they can."""
    applied = schema_version(db)
    present = [name for name in ENGINE_TABLES if db[name].exists()]
    unknown = [name for name in applied if name not in KNOWN_MIGRATIONS]
    if unknown:
        return f"schema_version {applied} includes migrations unknown to this code: {unknown}"
    if present and not applied:
        return f"engine tables {present} exist but no schema_version is recorded"
    if applied and len(present) < len(ENGINE_TABLES):
        missing = [name for name in ENGINE_TABLES if name not in present]
        return f"schema_version {applied} is recorded but tables {missing} are missing"
    return None


def ensure_engine_schema(
    db: Database, *, allow_destructive_migration: bool = False, where: str = ""
) -> None:
    """Create or upgrade the engine tables; refuse (or rebuild, if allowed) an unknown schema.

    ``where`` names the database in messages. Raises RuntimeError for an unknown schema.
    """
    with immediate(db):
        problem = _schema_problem(db)
        if problem is not None:
            label = f"{where}: " if where else ""
            if not allow_destructive_migration:
                raise RuntimeError(
                    f"{label}{problem}; open it with allow_destructive_migration=True "
                    "to drop the engine tables and start empty (their data is lost)"
                )
            warnings.warn(
                f"{label}{problem}; dropping the engine tables and rebuilding them empty",
                UserWarning,
                stacklevel=3,
            )
            for name in ENGINE_TABLES:
                db[name].drop(ignore=True)
            if db[Migrations.migrations_table].exists():
                db[Migrations.migrations_table].delete_where(
                    "migration_set = ?", [engine_migrations.name]
                )
        engine_migrations.apply(db)
