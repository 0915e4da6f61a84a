"""``webapp user ...``: managing accounts from a shell."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from webapp.accounts import audit
from webapp.accounts import users as accounts
from webapp.cli import main
from webapp.store.db import open_database


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("WEBAPP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WEBAPP_PASSWORD_HASH_PROFILE", "CHEAPEST")
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(main, ["user", *args], catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result.output

    return invoke


@pytest.fixture
def db(tmp_path):
    def open_it():
        return open_database(tmp_path / "data" / "webapp.db")

    return open_it


def test_create_prints_a_generated_password_that_signs_in(run, db):
    output = run("create", "alice", "--role", "operator")
    password = re.search(r"^password: (\S+)$", output, re.MULTILINE)[1]
    database = db()
    hasher = accounts.make_hasher("CHEAPEST")
    assert accounts.authenticate(database, "alice", password, hasher=hasher).role == "operator"
    assert [u.username for u in accounts.list_users(database)] == ["alice"]  # no first admin
    entry = audit.query(database).items[0]
    assert entry.action == "user.create" and entry.actor.startswith("cli")
    database.close()


def test_list_set_role_reset_disable_enable(run):
    run("create", "bob", "--password", "long enough")
    assert re.search(r"^bob\s+viewer\s+active", run("list"), re.MULTILINE)
    assert "bob is now admin" in run("set-role", "bob", "admin")
    assert re.search(r"^password: \S+$", run("reset-password", "bob"), re.MULTILINE)
    assert "password:" not in run("reset-password", "bob", "--password", "another one")
    run("create", "carol", "--role", "admin", "--password", "long enough")
    assert "bob is disabled" in run("disable", "bob")
    assert re.search(r"^bob\s+admin\s+disabled", run("list"), re.MULTILINE)
    assert "bob is enabled" in run("enable", "bob")


def test_errors_are_one_clear_line(run):
    assert "no user is named 'ghost'" in run("disable", "ghost", ok=False)
    assert "at least 8" in run("create", "dave", "--password", "short", ok=False)
    assert "username must be" in run("create", "bad name", ok=False)
    run("create", "eve", "--password", "long enough", "--role", "admin")
    assert "last enabled admin" in run("set-role", "eve", "viewer", ok=False)
