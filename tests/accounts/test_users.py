"""Users, roles and passwords: the rules the dashboard and the CLI share."""

from __future__ import annotations

import threading

import pytest

from webapp.accounts import audit, users
from webapp.accounts.errors import (
    InvalidPassword,
    InvalidRole,
    InvalidUsername,
    LastAdmin,
    UserExists,
    UserNotFound,
)
from webapp.store.accounts import accounts_migrations
from webapp.store.db import open_database


def test_roles_are_ordered_viewer_operator_admin():
    assert users.role_at_least("admin", "operator")
    assert users.role_at_least("operator", "operator")
    assert not users.role_at_least("viewer", "operator")
    with pytest.raises(InvalidRole, match="viewer, operator, admin"):
        users.role_at_least("viewer", "root")


def test_created_user_signs_in_with_its_password_only(db, hasher):
    created = users.create_user(
        db, "Alice", "correct horse", role="operator", actor="test", hasher=hasher
    )
    assert created.username == "alice" and created.role == "operator"
    assert users.authenticate(db, "ALICE", "correct horse", hasher=hasher).id == created.id
    assert users.authenticate(db, "alice", "wrong horse!", hasher=hasher) is None
    assert users.authenticate(db, "nobody", "correct horse", hasher=hasher) is None


def test_password_is_stored_as_an_argon2id_hash(db, hasher):
    users.create_user(db, "alice", "correct horse", actor="test", hasher=hasher)
    stored = db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


@pytest.mark.parametrize(
    ("username", "password", "role", "error"),
    [
        ("", "long enough", "viewer", InvalidUsername),
        ("has space", "long enough", "viewer", InvalidUsername),
        ("x" * 65, "long enough", "viewer", InvalidUsername),
        ("../etc", "long enough", "viewer", InvalidUsername),
        ("bob", "short", "viewer", InvalidPassword),
        ("bob", "x" * 1025, "viewer", InvalidPassword),
        ("bob", "long enough", "root", InvalidRole),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(db, hasher, username, password, role, error):
    with pytest.raises(error) as caught:
        users.create_user(db, username, password, role=role, actor="test", hasher=hasher)
    assert str(caught.value)
    assert users.list_users(db) == []


def test_usernames_are_unique_regardless_of_case(db, hasher):
    users.create_user(db, "bob", "long enough", actor="test", hasher=hasher)
    with pytest.raises(UserExists, match="bob"):
        users.create_user(db, "BOB", "long enough", actor="test", hasher=hasher)


def test_password_change_and_disable_bump_the_session_epoch(db, hasher):
    bob = users.create_user(db, "bob", "long enough", actor="test", hasher=hasher)
    changed, password = users.set_password(db, "bob", None, actor="admin", hasher=hasher)
    assert changed.session_epoch == bob.session_epoch + 1
    assert users.authenticate(db, "bob", password, hasher=hasher) is not None
    assert users.authenticate(db, "bob", "long enough", hasher=hasher) is None
    disabled = users.set_disabled(db, "bob", True, actor="admin")
    assert disabled.disabled and disabled.session_epoch == changed.session_epoch + 1
    assert users.authenticate(db, "bob", password, hasher=hasher) is None


def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(db, hasher):
    users.create_user(db, "root", "long enough", role="admin", actor="test", hasher=hasher)
    with pytest.raises(LastAdmin, match="last enabled admin"):
        users.set_role(db, "root", "viewer", actor="root")
    with pytest.raises(LastAdmin):
        users.set_disabled(db, "root", True, actor="root")
    users.create_user(db, "second", "long enough", role="admin", actor="test", hasher=hasher)
    assert users.set_role(db, "root", "viewer", actor="second").role == "viewer"


def test_unknown_user_is_a_lookup_error(db):
    with pytest.raises(UserNotFound, match="ghost"):
        users.set_role(db, "ghost", "admin", actor="test")


def test_changes_are_on_the_audit_log_in_order(db, hasher):
    users.create_user(db, "bob", "long enough", actor="root", hasher=hasher)
    users.set_role(db, "bob", "operator", actor="root", address="10.0.0.1")
    users.set_password(db, "bob", "another one", actor="bob", hasher=hasher)
    users.set_disabled(db, "bob", True, actor="root")
    entries = list(reversed(audit.query(db).items))
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("root", "user.create", "bob"),
        ("root", "user.role", "bob"),
        ("bob", "user.password", "bob"),
        ("root", "user.disable", "bob"),
    ]
    assert entries[1].detail == "viewer -> operator" and entries[1].address == "10.0.0.1"


def test_first_admin_is_created_once_even_when_processes_race(tmp_path, hasher):
    path = tmp_path / "race.db"
    open_database(path, migrations=(accounts_migrations,)).close()
    passwords: list[str | None] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        db = open_database(path)
        barrier.wait()
        passwords.append(users.ensure_first_admin(db, hasher=hasher))
        db.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [p for p in passwords if p is not None]
    assert len(created) == 1
    db = open_database(path)
    assert [(u.username, u.role) for u in users.list_users(db)] == [("admin", "admin")]
    assert users.authenticate(db, "admin", created[0], hasher=hasher) is not None
    assert users.ensure_first_admin(db, hasher=hasher) is None
    db.close()


def test_a_login_with_an_outdated_hash_upgrades_it(db):
    cheap, stronger = users.make_hasher("CHEAPEST"), users.make_hasher("RFC_9106_LOW_MEMORY")
    users.create_user(db, "bob", "long enough", actor="test", hasher=cheap)
    assert users.authenticate(db, "bob", "long enough", hasher=stronger) is not None
    stored = db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert "m=65536" in stored
