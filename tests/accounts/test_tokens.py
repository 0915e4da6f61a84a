"""API tokens: shown once, stored hashed, revocable, dead with a disabled owner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.accounts import audit, tokens, users
from webapp.accounts.errors import InvalidTokenName, TokenNotFound


@pytest.fixture
def bob(db, hasher):
    return users.create_user(db, "bob", "long enough", role="operator", actor="test", hasher=hasher)


def test_a_token_authenticates_its_owner_and_is_stored_only_as_a_digest(db, bob):
    token, secret = tokens.create_token(db, bob, "ci", actor="bob")
    assert secret.startswith(tokens.TOKEN_PREFIX) and len(secret) > 40
    assert tokens.user_for_token(db, secret).username == "bob"
    stored = db.execute("SELECT token_hash, prefix FROM api_tokens").fetchone()
    assert secret not in stored and secret.startswith(stored[1])
    assert token.name == "ci" and token.active


def test_wrong_revoked_or_disabled_tokens_authenticate_nobody(db, bob, hasher):
    token, secret = tokens.create_token(db, bob, "ci", actor="bob")
    assert tokens.user_for_token(db, secret + "x") is None
    assert tokens.user_for_token(db, "") is None
    assert tokens.user_for_token(db, "Bearer " + secret) is None
    _, other = tokens.create_token(db, bob, "other", actor="bob")
    tokens.revoke_token(db, token.id, actor="bob", owner_id=bob.id)
    assert tokens.user_for_token(db, secret) is None
    assert tokens.user_for_token(db, other) is not None
    users.create_user(db, "root", "long enough", role="admin", actor="t", hasher=hasher)
    users.set_disabled(db, "bob", True, actor="root")
    assert tokens.user_for_token(db, other) is None


def test_a_token_carries_its_owners_current_role(db, bob, hasher):
    _, secret = tokens.create_token(db, bob, "ci", actor="bob")
    users.create_user(db, "root", "long enough", role="admin", actor="t", hasher=hasher)
    users.set_role(db, "bob", "viewer", actor="root")
    assert tokens.user_for_token(db, secret).role == "viewer"


def test_users_cannot_revoke_each_others_tokens(db, bob, hasher):
    alice = users.create_user(db, "alice", "long enough", actor="t", hasher=hasher)
    token, secret = tokens.create_token(db, bob, "ci", actor="bob")
    with pytest.raises(TokenNotFound):
        tokens.revoke_token(db, token.id, actor="alice", owner_id=alice.id)
    assert tokens.user_for_token(db, secret) is not None
    with pytest.raises(TokenNotFound):
        tokens.revoke_token(db, 2**70, actor="alice")


def test_token_names_are_checked(db, bob):
    with pytest.raises(InvalidTokenName):
        tokens.create_token(db, bob, "   ", actor="bob")
    with pytest.raises(InvalidTokenName):
        tokens.create_token(db, bob, "x" * 101, actor="bob")


def test_last_use_is_noted_at_most_once_a_minute(db, bob):
    token, secret = tokens.create_token(db, bob, "ci", actor="bob")
    start = datetime(2030, 1, 1, tzinfo=UTC)
    tokens.user_for_token(db, secret, now=start)
    tokens.user_for_token(db, secret, now=start + timedelta(seconds=30))
    assert tokens.get_token(db, token.id).last_used_at == audit.timestamp(start)
    tokens.user_for_token(db, secret, now=start + timedelta(minutes=2))
    assert tokens.get_token(db, token.id).last_used_at == audit.timestamp(
        start + timedelta(minutes=2)
    )


def test_token_changes_are_audited(db, bob):
    token, _ = tokens.create_token(db, bob, "ci", actor="bob", address="127.0.0.1")
    tokens.revoke_token(db, token.id, actor="root")
    entries = list(reversed(audit.query(db, action="token.").items))
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("bob", "token.create", "bob"),
        ("root", "token.revoke", "bob"),
    ]
    assert "'ci'" in entries[0].detail
