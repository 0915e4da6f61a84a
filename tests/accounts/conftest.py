"""A fresh accounts database per test and a cheap password hasher."""

from __future__ import annotations

import pytest

from webapp.accounts import users
from webapp.store.accounts import accounts_migrations
from webapp.store.db import open_database


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "accounts.db", migrations=(accounts_migrations,))
    yield database
    database.close()


@pytest.fixture
def hasher():
    return users.make_hasher("CHEAPEST")
