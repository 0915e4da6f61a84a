"""The task list's keyset pages: every sort, every filter, and their query plans at 100k."""

from __future__ import annotations

import itertools
import re

import pytest

from webapp import orchestration as orch
from webapp.orchestration import task_lists
from webapp.orchestration.errors import InvalidTaskRequest
from webapp.store import task_pages
from webapp.store.records_schema import bulk_insert_task_records

STATUSES = ("queued", "completed", "failed", "running")
ENGINE = {"queued": "pending", "completed": "done", "failed": "failed", "running": "running"}
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _seed(settings, count: int) -> None:
    """Rows as task_new writes them, inserted in bulk, with varied starters, exit codes
    (some none), workflows and days."""
    rows = []
    for i in range(count):
        task_id = "k" + "".join(ALPHABET[i // 32**n % 32] for n in range(4))
        status = STATUSES[i % 4]
        stamp = f"2026-01-{1 + i % 28:02d}T{i // 3600 % 24:02d}:00:00.{i:06d}+00:00"
        rows.append({
            "project_id": "demo", "task_id": task_id, "run_id": f"run-{i}", "run_no": 1,
            "name": f"task-{i * 7919 % count:06d}", "type": "bash" if i % 3 else "prompt",
            "payload": f"echo {i}", "description": "", "status": status,
            "engine_status": ENGINE[status], "created_at": stamp,
            "created_by": ("alice", "bob", "carol")[i % 3], "queued_at": stamp,
            "exit_code": None if status in ("queued", "running") else i % 5,
            "graph_id": f"g{i % 7}" if i % 10 == 0 else None, "deleting": 0, "version": 1,
        })  # fmt: skip
    bulk_insert_task_records(settings.store.db, rows)


def _all_pages(query, limit=7) -> list[str]:
    seen, cursor = [], None
    while True:
        page = task_lists.task_page(query, after=cursor, limit=limit)
        seen += [t.task_id for t in page.items]
        if not page.has_next:
            return seen
        cursor = page.next_cursor


SORTS = [s for c in task_lists.SORTS for s in (c, f"-{c}")]


@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_pages_through_every_task_once_in_order(project, settings, sort):
    _seed(settings, 60)
    query = task_lists.build_query("demo", sort=sort)
    ids = _all_pages(query)
    assert len(ids) == len(set(ids)) == 60
    rows = {t.task_id: t for t in orch.get_tasks("demo")}
    column = task_pages.SORT_COLUMNS[sort.lstrip("-")]
    field = {"created_at": "created_at", "created_by": "created_by"}.get(column, column)

    def key(task_id):
        value = getattr(rows[task_id], field)
        return (value is not None, value)

    values = [key(i) for i in ids]
    assert values == sorted(values, reverse=sort.startswith("-"))
    # and backwards from the last page, the same rows in the same order
    back, page = [], task_lists.task_page(query, last=True, limit=7)
    while True:
        back = [t.task_id for t in page.items] + back
        if not page.has_previous:
            break
        page = task_lists.task_page(query, before=page.prev_cursor, limit=7)
    assert back == ids


def test_filters_combine(project, settings):
    _seed(settings, 200)
    everything = orch.get_tasks("demo")

    def matching(**kwargs) -> set[str]:
        return set(_all_pages(task_lists.build_query("demo", **kwargs), limit=50))

    assert matching(started_by="bob") == {t.task_id for t in everything if t.created_by == "bob"}
    assert matching(exit_code="3", status="failed") == {
        t.task_id for t in everything if t.exit_code == 3 and t.status == "failed"
    }
    assert matching(exit_code="none") == {t.task_id for t in everything if t.exit_code is None}
    assert matching(workflow="g3", sort="name") == {
        t.task_id for t in everything if t.graph_id == "g3"
    }
    day = {t.task_id for t in everything if t.created_at.day in (2, 3)}
    assert matching(since="2026-01-02", until="2026-01-03") == day
    page = task_lists.task_page(task_lists.build_query("demo", started_by="alice", type="bash"))
    assert page.total == sum(t.created_by == "alice" and t.type == "bash" for t in everything)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sort": "colour"}, "Unknown sort"),
        ({"exit_code": "x"}, "exit code"),
        ({"since": "2026-13-01"}, "date"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "ends before it starts"),
    ],
)
def test_bad_list_queries_are_explained(project, kwargs, message):
    with pytest.raises(InvalidTaskRequest, match=message):
        task_lists.build_query("demo", **kwargs)
    with pytest.raises(InvalidTaskRequest, match="cursor"):
        task_lists.task_page(task_lists.build_query("demo"), after="bm90LWEtbGlzdA")


BIG = re.compile(r"^SCAN (task_records|t)\b")
FILTERS = {
    "status": {"status": "failed"},
    "statuses": {"status": ["failed", "queued"]},
    "type": {"type": "prompt"},
    "started_by": {"started_by": "bob"},
    "exit": {"exit_code": "1"},
    "no exit": {"exit_code": "none"},
    "workflow": {"workflow": "g3"},
    "dates": {"since": "2026-01-03", "until": "2026-01-09"},
}


def _plan(db, sql: str, args: list) -> list[str]:
    steps = db.execute(f"EXPLAIN QUERY PLAN {sql}", [*args, 51])
    return [f"{parent}:{detail}" for _, parent, _, detail in steps]


def test_every_filter_and_sort_reads_an_index_in_order_at_100k(project, settings):
    # ~3 s to build; then the plan of every filter alone and in pairs (and all at once) with
    # every sort, both directions, first page and a later one: an index search, never a table
    # scan, never a sort of every match (only the page's own rows are sorted, at the top).
    _seed(settings, 100_000)
    db = settings.store.db
    checked = 0
    combos = [c for size in range(3) for c in itertools.combinations(FILTERS, size)]
    combos.append(("status", "type", "started_by", "exit", "workflow", "dates"))
    for names in combos:
        if {"exit", "no exit"} <= set(names) or {"status", "statuses"} <= set(names):
            continue
        kwargs = {k: v for n in names for k, v in FILTERS[n].items()}
        for sort in SORTS:
            query = task_lists.build_query("demo", sort=sort, **kwargs)
            sample = {"task_id": "kzzzz", "created_at": "2026-01-05T00:00:00+00:00",
                          "name": "task-5", "type": "bash", "status": "failed",
                          "created_by": "bob", "exit_code": 1}  # fmt: skip
            cursors = [None, task_pages.key_of(query, sample)]
            if sort.lstrip("-") == "exit":
                cursors.append(task_pages.key_of(query, {**sample, "exit_code": None}))
            for cursor, backward in itertools.product(cursors, (False, True)):
                for sql, args in task_pages.page_statements(db, query, cursor, backward):
                    plan = _plan(db, sql, args)
                    bad = [s for s in plan if BIG.match(s.partition(":")[2])
                               or ("TEMP B-TREE" in s and not s.startswith("0:"))]  # fmt: skip
                    assert not bad, (names, sort, cursor, plan)
                    assert any("USING INDEX" in s or "USING COVERING INDEX" in s
                                   for s in plan), (names, sort, plan)  # fmt: skip
                    checked += 1
    assert checked > 1500
    # counts read the index that holds every equality filter (no order to keep)
    statements: list[str] = []
    query = task_lists.build_query("demo", status="failed", type="prompt")
    db.conn.set_trace_callback(statements.append)
    try:
        task_pages.count(db, query)
    finally:
        db.conn.set_trace_callback(None)
    [count_sql] = [s for s in statements if "count(*)" in s]
    plan = " ".join(d for *_, d in db.execute(f"EXPLAIN QUERY PLAN {count_sql}"))
    assert "COVERING INDEX" in plan and "status=? AND type=?" in plan, plan
    # the last page reads as little as the first: a range of the same index
    query = task_lists.build_query("demo", sort="name")
    last = task_lists.task_page(query, last=True)
    assert len(last.items) == 50 and last.next_cursor is None and last.has_previous
