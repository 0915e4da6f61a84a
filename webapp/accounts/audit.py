"""The audit log: who did what, when, to what, from which address.

Entries are append-only and name their actor and target as text, so they stay readable after
the task or token they describe is gone. ``action`` is a dotted verb such as ``task.stop``;
filtering by ``"task."`` matches every task action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlite_utils import Database

from webapp.accounts.errors import InvalidAuditFilter
from webapp.store import accounts as store

MAX_LIMIT = 500
MAX_OFFSET = 10**9
MAX_FIELD = 2000


def timestamp(now: datetime | None = None) -> str:
    """Naive UTC ISO-8601 with microseconds: text order is time order."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    action: str
    target: str
    detail: str
    address: str


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntry]
    total: int
    limit: int
    offset: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


def record(
    db: Database,
    *,
    actor: str,
    action: str,
    target: str = "",
    detail: str = "",
    address: str | None = "",
    at: str | None = None,
) -> AuditEntry:
    """Append one entry; long texts are cut to ``MAX_FIELD`` characters."""
    row = {
        "at": at or timestamp(),
        "actor": (actor or "anonymous")[:200],
        "action": action[:200],
        "target": (target or "")[:MAX_FIELD],
        "detail": (detail or "")[:MAX_FIELD],
        "address": (address or "")[:200],
    }
    return AuditEntry(id=store.insert_audit(db, row), **row)


def parse_moment(text: str | None, field: str, *, end_of_day: bool = False) -> str | None:
    """``YYYY-MM-DD`` or an ISO date-time -> the stored form; ``until`` days are inclusive."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day)
            if end_of_day:
                moment = moment + timedelta(days=1) if day < date.max else datetime.max
            return moment.isoformat(timespec="microseconds")
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise InvalidAuditFilter(
            f"{field} must be a date like 2025-01-31 or a date-time like 2025-01-31T12:00, "
            f"not {text[:40]!r}"
        ) from None
    return moment.isoformat(timespec="microseconds")


def query(
    db: Database,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> AuditPage:
    """Entries newest first; ``until`` as a bare date includes that whole day; ``target``
    matches itself and what lies under it (project ``demo`` finds task ``demo/k3v8h``)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidAuditFilter(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidAuditFilter(f"offset must be between 0 and {MAX_OFFSET}, not {offset}")
    filters = {
        "actor": (actor or "").strip().lower() or None,
        "action": (action or "").strip() or None,
        "target": (target or "").strip() or None,
        "since": parse_moment(since, "since"),
        "until": parse_moment(until, "until", end_of_day=True),
    }
    rows, total = store.query_audit(db, filters, limit=limit, offset=offset)
    return AuditPage([AuditEntry(**row) for row in rows], total, limit, offset)


def actions(db: Database) -> list[str]:
    """Every action that has been recorded, for the filter menu."""
    return store.audit_actions(db)
