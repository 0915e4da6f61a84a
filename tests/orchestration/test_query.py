"""Read models: paging, filters, search, counts, and their query plans at 100k tasks."""

from __future__ import annotations

import re

import pytest

from webapp import orchestration as orch
from webapp.orchestration.status import derive_status
from webapp.store.records_schema import bulk_insert_task_records
from webapp.store.workers import claim_runs


def _queue(n: int, **kwargs) -> list[orch.TaskMeta]:
    return [orch.task_new("demo", payload=f"echo {i}", **kwargs) for i in range(n)]


def test_pages_are_newest_first_with_totals(project):
    tasks = _queue(7)
    first = orch.task_list("demo", limit=3)
    assert [t.task_id for t in first.items] == [t.task_id for t in tasks[::-1][:3]]
    assert (first.total, first.has_next, first.has_previous) == (7, True, False)
    last = orch.task_list("demo", limit=3, offset=6)
    assert [t.task_id for t in last.items] == [tasks[0].task_id]
    assert not last.has_next and last.has_previous


def test_filters_by_status_type_and_text(project):
    a, b, c = _queue(3)
    orch.task_stop("demo", b.task_id)
    prompt = orch.task_new("demo", type="prompt", name="summarise", payload="Summarise 100%_done")
    assert {t.task_id for t in orch.task_list("demo", status="cancelled").items} == {b.task_id}
    both = orch.task_list("demo", status=["cancelled", "queued"], type="bash")
    assert both.total == 3
    assert [t.task_id for t in orch.task_list("demo", type="prompt").items] == [prompt.task_id]
    assert orch.task_list("demo", search="echo 2").items[0].task_id == c.task_id
    assert orch.task_list("demo", search="SUMMARISE").total == 1  # name, case-insensitive
    assert orch.task_list("demo", search=a.task_id).items[0].task_id == a.task_id
    assert orch.task_list("demo", search="100%_d").total == 1  # wildcards are literal
    assert orch.task_list("demo", search="1%0").total == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "sleeping"}, "Unknown status 'sleeping'"),
        ({"type": "perl"}, "Unknown task type"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"search": "x" * 201}, "search text"),
    ],
)
def test_bad_filters_are_explained(project, kwargs, message):
    with pytest.raises(orch.errors.InvalidTaskRequest, match=message):
        orch.task_list("demo", **kwargs)


def test_seed_reads(project):
    tasks = _queue(4)
    orch.task_stop("demo", tasks[1].task_id)
    ids = sorted(t.task_id for t in tasks)
    assert [t.task_id for t in orch.get_tasks("demo")] == ids
    assert [t.task_id for t in orch.get_tasks("demo", reverse=True)] == ids[::-1]
    states = orch.get_all_task_states("demo", tasks)
    assert states[tasks[1].task_id] == "cancelled" and states[tasks[0].task_id] == "queued"
    assert orch.counts_by_status()["queued"] == 3
    assert orch.task_status("demo", tasks[0].task_id).status == "queued"
    with pytest.raises(orch.errors.TaskNotFound):
        orch.get_task_meta("demo", "k0000")
    with pytest.raises(orch.errors.TaskNotFound):
        orch.task_version("demo", "k0000")


def _bulk_insert(settings, count: int) -> None:
    """Rows as task_new writes them, inserted in bulk (task_new at 100k takes minutes)."""
    statuses = ("queued", "completed", "failed", "running")
    engine = {"queued": "pending", "completed": "done", "failed": "failed", "running": "running"}
    head, alphabet = "ghjkmnpqrstvwxyz", "0123456789abcdefghjkmnpqrstvwxyz"
    rows = []
    for i in range(count):
        task_id = f"{head[i % 16]}{i // 16 % 10}{alphabet[i // 160 % 32]}"
        task_id += f"{alphabet[i // 5120 % 32]}{alphabet[i // 163840 % 32]}"
        status = statuses[i % 4]
        stamp = f"2026-01-01T{i // 3600000:02d}:00:00.{i % 1000000:06d}+00:00"
        rows.append({
            "project_id": "demo", "task_id": task_id, "run_id": f"run-{i}", "run_no": 1,
            "name": f"task-{i}", "type": "bash" if i % 3 else "prompt",
            "payload": f"echo {i} && make build-{i % 100}", "description": "", "status": status,
            "engine_status": engine[status], "created_at": stamp, "created_by": "bench",
            "queued_at": stamp, "deleting": 0, "version": 1,
        })  # fmt: skip
    bulk_insert_task_records(settings.store.db, rows)


def _plans(db, call) -> list[list[str]]:
    """Run ``call`` and return the query plan of every statement it ran on ``db``."""
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        call()
    finally:
        db.conn.set_trace_callback(None)
    return [
        [f"{parent}:{detail}" for _, parent, _, detail in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
        for sql in statements
        if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "INSERT", "DELETE"))
    ]


#: Tables that grow with the tasks (under their names or the aliases the queries use).
BIG_TABLES = re.compile(r"^SCAN (task_records|t|tasks|e|runs|r|transitions|task_results|res)\b")
#: Partial indexes that hold only the rows a claim looks at (queued or running tasks).
BOUNDED_INDEXES = ("task_records_queue", "task_records_running")


def _unbounded(plans: list[list[str]]) -> list[str]:
    """Plan steps whose work grows with the number of tasks: a scan of a big table (unless
    through one of the small partial indexes), or a sort of every match of a page's query
    (only the page itself, at the top level, is sorted; a search sorts the capped set of
    rows its trigram index found)."""
    bad = []
    for plan in plans:
        searched = any("SCAN j VIRTUAL TABLE" in step for step in plan)
        for step in plan:
            parent, _, detail = step.partition(":")
            if BIG_TABLES.match(detail) and not any(i in detail for i in BOUNDED_INDEXES):
                bad.append(detail)
            if detail == "USE TEMP B-TREE FOR ORDER BY" and parent != "0" and not searched:
                bad.append(f"{detail} (every match of the filter)")
    return bad


def test_lists_read_only_their_page_at_100k_tasks(project, settings):
    # ~3 s: builds 100k rows; every read below is an index search, so its cost does not grow
    # with the table (query plans are checked here; bench/ measures the times).
    _bulk_insert(settings, 100_000)
    assert orch.task_list("demo").total == 100_000
    db = settings.store.db
    by_project = "idx_task_records_project_id_created_at_task_id (project_id=?)"
    by_status = "idx_task_records_project_id_status_created_at_task_id (project_id=? AND status=?)"
    by_type = "idx_task_records_project_id_type_created_at_task_id (project_id=? AND type=?)"
    by_both = "(project_id=? AND status=? AND type=?)"
    reads = {
        "page 1": (lambda: orch.task_list("demo"), by_project),
        "page 100": (lambda: orch.task_list("demo", offset=4950), by_project),
        "failed page 100": (lambda: orch.task_list("demo", status="failed", offset=4950),
                            by_status),
        "two statuses": (lambda: orch.task_list("demo", status=["failed", "queued"]),
                         by_project),
        "prompt page 1": (lambda: orch.task_list("demo", type="prompt"), by_type),
        "failed prompts": (lambda: orch.task_list("demo", status="failed", type="prompt"),
                           by_both),
        "counts": (lambda: orch.counts_by_status("demo"), "task_counts"),
        "version": (lambda: orch.project_version("demo"), "projects"),
        "prefix": (lambda: orch.resolve_task_id("demo", "g000"),
                   "sqlite_autoindex_task_records_1 (project_id=? AND task_id>? AND task_id<?)"),
        "claim": (lambda: claim_runs(db, "probe", 1, derive=derive_status), "task_records_queue"),
        "rare": (lambda: orch.task_list("demo", search="task-9999"), "task_search"),
        "common": (lambda: orch.task_list("demo", search="echo"), "task_search"),
        "1000 hits": (lambda: orch.task_list("demo", search="build-42"), "task_search"),
        "id prefix": (lambda: orch.task_list("demo", search="k1"), "task_id>? AND task_id<?"),
        "none": (lambda: orch.task_list("demo", search="zzzz"), "task_search"),
    }  # fmt: skip
    for name, (call, index) in reads.items():
        plans = _plans(db, call)
        assert plans, name
        assert not _unbounded(plans), (name, _unbounded(plans), plans)
        assert any(index in step for plan in plans for step in plan), (name, index, plans)
    # filtered counts read the index alone (the count of a page with a type or a search)
    [count] = [p for p in _plans(db, reads["failed prompts"][0]) if "CO-ROUTINE" in p[0]]
    assert any("COVERING INDEX" in step and by_both in step for step in count), count
    rare = orch.task_list("demo", search="TASK-9999")
    assert [t.name for t in rare.items] == [f"task-{i}" for i in (99999, 99998, 99997,
        99996, 99995, 99994, 99993, 99992, 99991, 99990, 9999)]  # fmt: skip
    common = orch.task_list("demo", search="echo")
    assert common.total_capped and common.has_next and len(common.items) == 50


def test_task_detail_is_the_task_and_its_history(project):
    task = orch.task_new("demo", payload="echo hi")
    orch.task_stop("demo", task.task_id)
    detail = orch.task_detail("demo", task.task_id)
    assert detail.task == orch.get_task_meta("demo", task.task_id)
    assert detail.history == orch.task_history("demo", task.task_id)
    assert [t.to_status for t in detail.history] == ["queued", "cancelled"]
    with pytest.raises(orch.errors.TaskNotFound):
        orch.task_detail("demo", "k0000")
    with pytest.raises(orch.errors.ProjectNotFound):
        orch.task_detail("nope", task.task_id)


def test_run_log_path_needs_no_read_but_checks_its_input(project):
    task = orch.task_new("demo", payload="echo hi")
    assert orch.run_log_path("demo", task.task_id, 1) == orch.task_log_path("demo", task.task_id)
    assert orch.run_log_path("demo", task.task_id, 2).name == "run-2.log"
    with pytest.raises(orch.errors.InvalidTaskRequest, match="run_no"):
        orch.run_log_path("demo", task.task_id, 0)
    with pytest.raises(orch.errors.UnsafePath):
        orch.run_log_path("demo", "../other", 1)
