"""Per-user API bearer tokens: shown once, stored as SHA-256 digests, revocable.

A token carries its owner's current role (a role change applies at once) and stops working
when it is revoked or its owner is disabled. Tokens are 256-bit random strings, so a fast
digest is enough: there is nothing to guess, and the lookup is one indexed read.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from webapp.accounts import audit
from webapp.accounts.errors import InvalidTokenName, TokenNotFound
from webapp.accounts.users import User, get_user
from webapp.limits import TOKEN_NAME_MAX_CHARS
from webapp.store import accounts as store
from webapp.store.db import immediate

TOKEN_PREFIX = "wat_"
MAX_NAME = TOKEN_NAME_MAX_CHARS
MAX_TOKEN = 200
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class ApiToken:
    id: int
    user_id: int
    username: str
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _check_name(name: str) -> str:
    name = " ".join(str(name or "").split())
    if not name or len(name) > MAX_NAME:
        raise InvalidTokenName(f"token name must be 1-{MAX_NAME} characters, e.g. 'ci deploy'")
    return name


def create_token(
    db: Database, user: User, name: str, *, actor: str, address: str | None = ""
) -> tuple[ApiToken, str]:
    """A new token for ``user``; the returned secret is never retrievable again."""
    name = _check_name(name)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with immediate(db):
        token_id = store.insert_token(
            db,
            {
                "user_id": user.id,
                "name": name,
                "token_hash": hash_token(secret),
                "prefix": secret[: len(TOKEN_PREFIX) + 6],
                "created_at": audit.timestamp(),
            },
        )
        audit.record(
            db,
            actor=actor,
            action="token.create",
            target=user.username,
            detail=f"token #{token_id} {name!r}",
            address=address,
        )
    return ApiToken(**store.token_by_id(db, token_id)), secret


def list_tokens(db: Database, user_id: int | None = None) -> list[ApiToken]:
    """One user's tokens, or everyone's with ``user_id=None``; active ones first."""
    return [ApiToken(**row) for row in store.list_tokens(db, user_id)]


def get_token(db: Database, token_id: int, *, owner_id: int | None = None) -> ApiToken:
    """The token with that id; with ``owner_id``, only if that user owns it."""
    row = store.token_by_id(db, token_id) if 0 < token_id < 2**63 else None
    if row is None or (owner_id is not None and row["user_id"] != owner_id):
        raise TokenNotFound(f"no token #{token_id}" + (" of yours" if owner_id else ""))
    return ApiToken(**row)


def revoke_token(
    db: Database,
    token_id: int,
    *,
    actor: str,
    owner_id: int | None = None,
    address: str | None = "",
) -> ApiToken:
    """Revoke a token (idempotent); ``owner_id`` restricts it to that user's tokens."""
    with immediate(db):
        token = get_token(db, token_id, owner_id=owner_id)
        if not token.active:
            return token
        store.update_token(db, token.id, {"revoked_at": audit.timestamp()})
        audit.record(
            db,
            actor=actor,
            action="token.revoke",
            target=token.username,
            detail=f"token #{token.id} {token.name!r}",
            address=address,
        )
    return get_token(db, token_id)


def user_for_token(db: Database, secret: str, *, now: datetime | None = None) -> User | None:
    """The enabled owner of an active token, else None; notes when it was last used."""
    if not secret or len(secret) > MAX_TOKEN or not secret.startswith(TOKEN_PREFIX):
        return None
    row = store.token_by_hash(db, hash_token(secret))
    if row is None or row["revoked_at"] is not None:
        return None
    user = get_user(db, row["user_id"])
    if user is None or user.disabled:
        return None
    moment = now or datetime.now(UTC)
    last = row["last_used_at"]
    if last is None or audit.timestamp(moment - TOUCH_EVERY) > last:
        store.update_token(db, row["id"], {"last_used_at": audit.timestamp(moment)})
    return user
