"""Users and roles: viewer < operator < admin, passwords hashed with argon2id.

A viewer reads; an operator also creates, runs, stops, retries and renames tasks; an admin
also deletes, manages projects, users and everyone's tokens. Users are never deleted, only
disabled, so the audit log's names keep meaning someone. Changing a password or disabling a
user bumps ``session_epoch``, which ends every session signed with the old epoch.
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils import Database

from webapp.accounts import audit
from webapp.accounts.errors import (
    InvalidPassword,
    InvalidRole,
    InvalidUsername,
    LastAdmin,
    UserExists,
    UserNotFound,
)
from webapp.limits import PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, USERNAME_MAX_CHARS
from webapp.store import accounts as store
from webapp.store.db import immediate

ROLES = ("viewer", "operator", "admin")
USERNAME_RE = re.compile(rf"[a-z0-9][a-z0-9._-]{{0,{USERNAME_MAX_CHARS - 1}}}")
MIN_PASSWORD = PASSWORD_MIN_CHARS
MAX_PASSWORD = PASSWORD_MAX_CHARS
FIRST_ADMIN = "admin"
HASH_PROFILES = ("RFC_9106_LOW_MEMORY", "RFC_9106_HIGH_MEMORY", "CHEAPEST")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    disabled: bool
    session_epoch: int
    created_at: str
    updated_at: str | None
    password_changed_at: str | None

    def can(self, role: str) -> bool:
        """True when this user's role is ``role`` or above."""
        return role_at_least(self.role, role)


def role_at_least(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(check_role(needed))


def make_hasher(profile: str = "RFC_9106_LOW_MEMORY") -> PasswordHasher:
    """An argon2id hasher; ``CHEAPEST`` exists for test suites only."""
    if profile not in HASH_PROFILES:
        raise ValueError(f"password hash profile must be one of {HASH_PROFILES}, not {profile!r}")
    return PasswordHasher.from_parameters(getattr(profiles, profile))


DEFAULT_HASHER = make_hasher()


def check_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not USERNAME_RE.fullmatch(name):
        raise InvalidUsername(
            f"username must be 1-{USERNAME_MAX_CHARS} characters of a-z, 0-9, '.', '_' or '-', "
            f"starting with a letter or digit, not {str(username)[:70]!r}"
        )
    return name


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidPassword(f"password must be at least {MIN_PASSWORD} characters long")
    if len(password) > MAX_PASSWORD:
        raise InvalidPassword(f"password must be at most {MAX_PASSWORD} characters long")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidRole(f"role must be one of {', '.join(ROLES)}, not {str(role)[:40]!r}")
    return role


def _user(row: dict) -> User:
    fields = {key: row.get(key) for key in User.__dataclass_fields__}
    return User(**{**fields, "disabled": bool(row["disabled"])})


def get_user(db: Database, user_id: int) -> User | None:
    row = store.user_by_id(db, user_id)
    return _user(row) if row else None


def find_user(db: Database, username: str) -> User:
    """The user with that name (any case), or ``UserNotFound``."""
    row = store.user_by_name(db, (username or "").strip().lower())
    if row is None:
        raise UserNotFound(f"no user is named {str(username)[:70]!r}")
    return _user(row)


def list_users(db: Database) -> list[User]:
    return [_user(row) for row in store.list_users(db)]


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def create_user(
    db: Database,
    username: str,
    password: str,
    *,
    role: str = "viewer",
    actor: str,
    address: str | None = "",
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> User:
    name = check_username(username)
    check_role(role)
    password_hash = hasher.hash(check_password(password))
    now = audit.timestamp()
    with immediate(db):
        if store.user_by_name(db, name) is not None:
            raise UserExists(f"a user named {name!r} already exists")
        user_id = store.insert_user(
            db,
            {
                "username": name,
                "password_hash": password_hash,
                "role": role,
                "disabled": 0,
                "session_epoch": 0,
                "created_at": now,
                "updated_at": now,
                "password_changed_at": now,
            },
        )
        audit.record(
            db,
            actor=actor,
            action="user.create",
            target=name,
            detail=f"role {role}",
            address=address,
            at=now,
        )
    return get_user(db, user_id)


def ensure_first_admin(db: Database, *, hasher: PasswordHasher = DEFAULT_HASHER) -> str | None:
    """With no users at all, create ``admin`` with a random password and return it; else None.

    The check and the insert share one ``BEGIN IMMEDIATE`` transaction, so of several
    processes starting at once exactly one creates the admin and learns the password.
    """
    if store.count_users(db):
        return None
    password = generate_password()
    password_hash = hasher.hash(password)
    now = audit.timestamp()
    with immediate(db):
        if store.count_users(db):
            return None
        store.insert_user(
            db,
            {
                "username": FIRST_ADMIN,
                "password_hash": password_hash,
                "role": "admin",
                "disabled": 0,
                "session_epoch": 0,
                "created_at": now,
                "updated_at": now,
                "password_changed_at": now,
            },
        )
        audit.record(
            db,
            actor="system",
            action="user.create",
            target=FIRST_ADMIN,
            detail="first start: role admin, random password",
            at=now,
        )
    return password


def authenticate(
    db: Database, username: str, password: str, *, hasher: PasswordHasher = DEFAULT_HASHER
) -> User | None:
    """The enabled user whose password matches, else None (never says which part failed)."""
    name = (username or "").strip().lower()
    row = store.user_by_name(db, name, with_hash=True) if USERNAME_RE.fullmatch(name) else None
    if not isinstance(password, str) or len(password) > MAX_PASSWORD:
        return None
    stored = row["password_hash"] if row else _dummy_hash(hasher)
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row["disabled"]:
        return None
    if hasher.check_needs_rehash(stored):
        store.update_user(db, row["id"], {"password_hash": hasher.hash(password)})
    return _user(row)


def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the username is unknown, so a miss costs as much as a hit."""
    return _dummy_hash_for(hasher.time_cost, hasher.memory_cost, hasher.parallelism)


@functools.cache
def _dummy_hash_for(time_cost: int, memory_cost: int, parallelism: int) -> str:
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    return hasher.hash(secrets.token_hex(16))


def set_role(
    db: Database, username: str, role: str, *, actor: str, address: str | None = ""
) -> User:
    check_role(role)
    with immediate(db):
        user = find_user(db, username)
        if user.role == role:
            return user
        if user.role == "admin":
            _keep_an_admin(db, user, "take the admin role from")
        store.update_user(db, user.id, {"role": role, "updated_at": audit.timestamp()})
        audit.record(
            db,
            actor=actor,
            action="user.role",
            target=user.username,
            detail=f"{user.role} -> {role}",
            address=address,
        )
    return get_user(db, user.id)


def set_password(
    db: Database,
    username: str,
    password: str | None = None,
    *,
    actor: str,
    address: str | None = "",
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> tuple[User, str]:
    """Set (or, with ``password=None``, generate) a password; ends the user's sessions.

    Returns the user and the password that is now valid.
    """
    password = check_password(password) if password is not None else generate_password()
    password_hash = hasher.hash(password)
    now = audit.timestamp()
    with immediate(db):
        user = find_user(db, username)
        changes = {"password_hash": password_hash, "updated_at": now, "password_changed_at": now}
        store.bump_session_epoch(db, user.id, changes)
        detail = "own password changed" if actor == user.username else "password reset"
        audit.record(
            db,
            actor=actor,
            action="user.password",
            target=user.username,
            detail=detail,
            address=address,
            at=now,
        )
    return get_user(db, user.id), password


def set_disabled(
    db: Database, username: str, disabled: bool, *, actor: str, address: str | None = ""
) -> User:
    """Disable (ending every session; tokens stop working) or enable a user."""
    with immediate(db):
        user = find_user(db, username)
        if user.disabled == disabled:
            return user
        if disabled and user.role == "admin":
            _keep_an_admin(db, user, "disable")
        changes = {"disabled": int(disabled), "updated_at": audit.timestamp()}
        store.bump_session_epoch(db, user.id, changes)
        audit.record(
            db,
            actor=actor,
            action="user.disable" if disabled else "user.enable",
            target=user.username,
            address=address,
        )
    return get_user(db, user.id)


def _keep_an_admin(db: Database, user: User, verb: str) -> None:
    others = [u for u in list_users(db) if u.role == "admin" and not u.disabled and u != user]
    if not others:
        raise LastAdmin(
            f"cannot {verb} {user.username!r}: it is the last enabled admin; "
            "make another user admin first"
        )
