"""The accounts tables, as the migration set ``"webapp.accounts"``, and every query on them.

Tables: ``users`` (hashed passwords, role, disabled flag, session epoch), ``api_tokens``
(SHA-256 of each bearer token, never the token), ``audit_log`` (append-only; no foreign keys,
so entries outlive the tasks and users they name) and ``login_throttle`` (failed logins per
address and per user). Functions take the caller's ``Database`` and return plain dicts;
``webapp.accounts`` holds the rules. Timestamps are naive UTC ISO-8601 strings with
microseconds, so text order is time order; throttle times are Unix seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

accounts_migrations = Migrations("webapp.accounts")

USER_COLUMNS = (
    "id, username, role, disabled, session_epoch, created_at, updated_at, password_changed_at"
)


@accounts_migrations()
def m001_accounts_tables(db: Database) -> None:
    """users, api_tokens, audit_log and login_throttle, with their indexes."""
    db["users"].create(
        {
            "id": int,
            "username": str,
            "password_hash": str,
            "role": str,
            "disabled": int,
            "session_epoch": int,
            "created_at": str,
            "updated_at": str,
            "password_changed_at": str,
        },
        pk="id",
        not_null={"username", "password_hash", "role", "disabled", "session_epoch"},
        defaults={"disabled": 0, "session_epoch": 0},
        if_not_exists=True,
    )
    db["users"].create_index(["username"], unique=True, if_not_exists=True)
    db["api_tokens"].create(
        {
            "id": int,
            "user_id": int,
            "name": str,
            "token_hash": str,
            "prefix": str,
            "created_at": str,
            "last_used_at": str,
            "revoked_at": str,
        },
        pk="id",
        not_null={"user_id", "name", "token_hash", "prefix", "created_at"},
        foreign_keys=[("user_id", "users", "id")],
        if_not_exists=True,
    )
    db["api_tokens"].create_index(["token_hash"], unique=True, if_not_exists=True)
    db["api_tokens"].create_index(["user_id"], if_not_exists=True)
    db["audit_log"].create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "action": str,
            "target": str,
            "detail": str,
            "address": str,
        },
        pk="id",
        not_null={"at", "actor", "action", "target", "detail", "address"},
        defaults={"target": "", "detail": "", "address": ""},
        if_not_exists=True,
    )
    db["audit_log"].create_index(["at"], if_not_exists=True)
    db["audit_log"].create_index(["actor", "id"], if_not_exists=True)
    db["audit_log"].create_index(["action", "id"], if_not_exists=True)
    db["login_throttle"].create(
        {"key": str, "failures": int, "last_at": float, "locked_until": float},
        pk="key",
        not_null={"failures", "last_at", "locked_until"},
        if_not_exists=True,
    )


@accounts_migrations()
def m9_audit_target_index(db: Database) -> None:
    """The audit log filtered by target (a project, a task, a user) reads one index."""
    db["audit_log"].create_index(["target", "id"], if_not_exists=True)


# -- users ---------------------------------------------------------------------------------


def insert_user(db: Database, row: dict) -> int:
    return db["users"].insert(row).last_pk


def count_users(db: Database) -> int:
    return db.execute("SELECT count(*) FROM users").fetchone()[0]


def user_by_id(db: Database, user_id: int) -> dict | None:
    """One indexed read (it runs on every signed-in request, so no table introspection)."""
    cursor = db.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", [user_id])
    values = cursor.fetchone()
    if values is None:
        return None
    return dict(zip((column[0] for column in cursor.description), values, strict=True))


def user_by_name(db: Database, username: str, *, with_hash: bool = False) -> dict | None:
    columns = USER_COLUMNS + (", password_hash" if with_hash else "")
    rows = db.query(f"SELECT {columns} FROM users WHERE username = ?", [username])
    return next(iter(rows), None)


def list_users(db: Database) -> list[dict]:
    return list(db.query(f"SELECT {USER_COLUMNS} FROM users ORDER BY username"))


def update_user(db: Database, user_id: int, changes: dict) -> None:
    db["users"].update(user_id, changes)


def bump_session_epoch(db: Database, user_id: int, changes: dict) -> None:
    """Apply ``changes`` and invalidate every session of the user in one statement."""
    assignments = ", ".join(f"{column} = :{column}" for column in changes)
    db.execute(
        f"UPDATE users SET {assignments}, session_epoch = session_epoch + 1 WHERE id = :id",
        {**changes, "id": user_id},
    )


# -- tokens --------------------------------------------------------------------------------

TOKEN_COLUMNS = (
    "api_tokens.id, api_tokens.user_id, users.username, api_tokens.name, api_tokens.prefix, "
    "api_tokens.created_at, api_tokens.last_used_at, api_tokens.revoked_at"
)


def insert_token(db: Database, row: dict) -> int:
    return db["api_tokens"].insert(row).last_pk


def token_by_hash(db: Database, token_hash: str) -> dict | None:
    rows = db.query(
        f"SELECT {TOKEN_COLUMNS} FROM api_tokens JOIN users ON users.id = api_tokens.user_id "
        "WHERE api_tokens.token_hash = ?",
        [token_hash],
    )
    return next(iter(rows), None)


def token_by_id(db: Database, token_id: int) -> dict | None:
    rows = db.query(
        f"SELECT {TOKEN_COLUMNS} FROM api_tokens JOIN users ON users.id = api_tokens.user_id "
        "WHERE api_tokens.id = ?",
        [token_id],
    )
    return next(iter(rows), None)


def list_tokens(db: Database, user_id: int | None = None) -> list[dict]:
    where, params = ("WHERE api_tokens.user_id = ?", [user_id]) if user_id is not None else ("", [])
    return list(
        db.query(
            f"SELECT {TOKEN_COLUMNS} FROM api_tokens JOIN users ON users.id = api_tokens.user_id "
            f"{where} ORDER BY api_tokens.revoked_at IS NOT NULL, api_tokens.id DESC",
            params,
        )
    )


def update_token(db: Database, token_id: int, changes: dict) -> None:
    db["api_tokens"].update(token_id, changes)


# -- audit ---------------------------------------------------------------------------------


def insert_audit(db: Database, row: dict) -> int:
    return db["audit_log"].insert(row).last_pk


def insert_system_audit(db: Database, *, actor: str, action: str, target: str, detail: str) -> None:
    """An entry for what a process did on its own (a worker marking a run lost), written in
    the caller's transaction; skipped on a database without the accounts tables (a bare
    orchestration store, as in the engine's own tests)."""
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'"
    ).fetchone()
    if exists is None:
        return
    at = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    db.execute(
        "INSERT INTO audit_log (at, actor, action, target, detail, address) "
        "VALUES (?, ?, ?, ?, ?, '')",
        [at, actor[:200], action, target[:2000], detail[:2000]],
    )


def _audit_where(filters: dict) -> tuple[str, list]:
    clauses, params = [], []
    if filters.get("actor"):
        clauses.append("actor = ?")
        params.append(filters["actor"])
    if filters.get("action"):
        action = filters["action"]
        if action.endswith("."):
            clauses.append("action >= ? AND action < ?")
            params += [action, action[:-1] + "/"]  # "/" sorts right after "."
        else:
            clauses.append("action = ?")
            params.append(action)
    if filters.get("target"):
        target = filters["target"]
        # The target itself or anything under it ("demo" also finds "demo/k3v8h").
        clauses.append("(target = ? OR (target >= ? AND target < ?))")
        params += [target, target + "/", target + "0"]  # "0" sorts right after "/"
    if filters.get("since"):
        clauses.append("at >= ?")
        params.append(filters["since"])
    if filters.get("until"):
        clauses.append("at < ?")
        params.append(filters["until"])
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def query_audit(db: Database, filters: dict, *, limit: int, offset: int) -> tuple[list, int]:
    """Entries matching ``filters`` (actor, action or "prefix.", since, until), newest first."""
    where, params = _audit_where(filters)
    total = db.execute(f"SELECT count(*) FROM audit_log{where}", params).fetchone()[0]
    rows = db.query(
        f"SELECT * FROM audit_log{where} ORDER BY id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return list(rows), total


def audit_actions(db: Database) -> list[str]:
    return [row[0] for row in db.execute("SELECT DISTINCT action FROM audit_log ORDER BY 1")]


# -- login throttle ------------------------------------------------------------------------


def throttle_rows(db: Database, keys: list[str]) -> list[dict]:
    marks = ", ".join("?" for _ in keys)
    return list(db.query(f"SELECT * FROM login_throttle WHERE key IN ({marks})", keys))


def save_throttle(db: Database, row: dict) -> None:
    db["login_throttle"].upsert(row, pk="key")


def delete_throttle(db: Database, key: str) -> None:
    db.execute("DELETE FROM login_throttle WHERE key = ?", [key])


def prune_throttle(db: Database, *, older_than: float, now: float) -> None:
    """Forget rows whose last failure is older than ``older_than`` and that are not locked."""
    db.execute(
        "DELETE FROM login_throttle WHERE last_at < ? AND locked_until <= ?", [older_than, now]
    )
