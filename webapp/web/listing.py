"""List filters and pagination read from (and written back to) the URL's query string."""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import ceil

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from webapp.engine import TASK_TYPES
from webapp.limits import SEARCH_MAX_CHARS
from webapp.orchestration import UI_STATUSES
from webapp.orchestration.llm import USAGE_SORTS

PAGE_SIZE = 50
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class TaskFilters:
    """What the user asked the task list to show; every field lives in the URL."""

    status: str | None = None
    type: str | None = None
    q: str | None = None
    page: int = 1
    usage_sort: str | None = None
    """Order by the current run's tokens or cost (see ``llm.USAGE_SORTS``)."""

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    @property
    def active(self) -> bool:
        return bool(self.status or self.type or self.q)

    def args(self, **changes) -> dict[str, str | int]:
        """Query arguments for a link to this list with ``changes`` applied; defaults left out."""
        chosen = replace(self, **changes)
        out: dict[str, str | int] = {}
        for key in ("status", "type", "q", "usage_sort"):
            value = getattr(chosen, key)
            if value:
                out[key] = value
        if chosen.page != 1:
            out["page"] = chosen.page
        return out


def parse_choice(args: MultiDict, key: str, allowed: tuple[str, ...]) -> str | None:
    value = (args.get(key) or "").strip().lower()
    if not value or value == "all":
        return None
    if value not in allowed:
        raise BadRequest(f"Unknown {key} {value!r}; choose one of: {', '.join(allowed)}.")
    return value


def parse_page(args: MultiDict) -> int:
    raw = (args.get("page") or "1").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(f"Page {raw!r} is not a page number; pages start at 1.")
    return int(raw)


def parse_filters(args: MultiDict) -> TaskFilters:
    """Filters from ``request.args``; unknown values are a 400 naming the allowed ones."""
    q = (args.get("q") or "").strip()[:SEARCH_MAX_CHARS] or None
    return TaskFilters(
        status=parse_choice(args, "status", UI_STATUSES),
        type=parse_choice(args, "type", TASK_TYPES),
        q=q,
        page=parse_page(args),
        usage_sort=parse_choice(args, "usage_sort", USAGE_SORTS),
    )


@dataclass(frozen=True)
class Pager:
    """Numbers for a pagination bar."""

    page: int
    total: int
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.page_size))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_row(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.page_size + 1

    @property
    def last_row(self) -> int:
        return min(self.total, self.page * self.page_size)
