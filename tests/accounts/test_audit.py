"""The audit log: append, filter by user, action (or action prefix) and date, page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from webapp.accounts import audit
from webapp.accounts.errors import InvalidAuditFilter


@pytest.fixture
def entries(db):
    def at(day: int, hour: int = 12) -> str:
        return audit.timestamp(datetime(2030, 1, day, hour, tzinfo=UTC))

    audit.record(db, actor="alice", action="task.create", target="demo/a", at=at(1))
    audit.record(db, actor="bob", action="task.stop", target="demo/a", at=at(2))
    audit.record(db, actor="alice", action="task.delete", target="demo/a", at=at(3))
    audit.record(db, actor="alice", action="login", at=at(3, 23))
    return db


def test_entries_come_newest_first(entries):
    page = audit.query(entries)
    assert [e.action for e in page.items] == ["login", "task.delete", "task.stop", "task.create"]
    assert page.total == 4 and not page.has_next


def test_filter_by_user_action_and_prefix(entries):
    assert [e.action for e in audit.query(entries, actor="Alice").items] == [
        "login",
        "task.delete",
        "task.create",
    ]
    assert [e.actor for e in audit.query(entries, action="task.stop").items] == ["bob"]
    assert audit.query(entries, action="task.").total == 3
    assert audit.query(entries, action="task").total == 0


def test_filter_by_dates_includes_the_whole_last_day(entries):
    page = audit.query(entries, since="2030-01-02", until="2030-01-03")
    assert [e.action for e in page.items] == ["login", "task.delete", "task.stop"]
    assert audit.query(entries, since="2030-01-03T12:00:00Z").total == 2


def test_pages(entries):
    first = audit.query(entries, limit=3)
    second = audit.query(entries, limit=3, offset=3)
    assert first.has_next and not second.has_next
    assert [e.action for e in second.items] == ["task.create"]


def test_keyset_pages_read_older_and_newer_than_an_entry(entries):
    first = audit.query(entries, limit=3)
    older = audit.query(entries, limit=3, before_id=first.items[-1].id)
    assert older.items == audit.query(entries, limit=3, offset=3).items
    newer = audit.query(entries, limit=3, after_id=older.items[0].id)
    assert newer.items == first.items  # newest first on every page
    filtered = audit.query(entries, action="task.", limit=1, before_id=first.items[0].id)
    assert all(e.action.startswith("task.") and e.id < first.items[0].id for e in filtered.items)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"since": "yesterday"},
        {"until": "2030-13-01"},
        {"limit": 0},
        {"limit": 501},
        {"offset": -1},
        {"offset": 10**12},
    ],
)
def test_bad_filters_name_the_problem(entries, kwargs):
    with pytest.raises(InvalidAuditFilter, match=next(iter(kwargs))):
        audit.query(entries, **kwargs)


def test_the_last_day_of_the_calendar_is_a_valid_until(entries):
    assert audit.query(entries, until="9999-12-31").total == 4


def test_long_fields_are_cut_not_refused(db):
    entry = audit.record(db, actor="a", action="x", detail="d" * 5000)
    assert len(entry.detail) == audit.MAX_FIELD
