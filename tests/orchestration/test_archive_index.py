"""The archive index: written on delete, read by the archive list, kept by retention,
rebuilt from the folders."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

from webapp import orchestration as orch
from webapp.orchestration import archive_index
from webapp.store import archive_index as store_index


def _archived(n: int, **kwargs) -> list[str]:
    ids = []
    for i in range(n):
        task = orch.task_new("demo", name=f"gone-{i}", payload=f"echo {i}", actor="alice")
        orch.task_stop("demo", task.task_id, actor="alice")
        ids.append(orch.task_delete("demo", task.task_id, actor="bob").archive_dir.name)
    return ids


def test_delete_writes_the_index_entry(project, settings):
    [archive_id] = _archived(1)
    row = store_index.get_entry(settings.store.db, "demo", archive_id)
    assert row["name"] == "gone-0" and row["status"] == "cancelled"
    assert row["deleted_by"] == "bob" and row["created_by"] == "alice"
    assert row["payload_excerpt"] == "echo 0" and row["archive_id"] == archive_id
    page = archive_index.archive_page("demo")
    assert [i.archive_id for i in page.items] == [archive_id] and page.total == 1
    assert page.items[0] == orch.get_archived_task("demo", archive_id)


def test_pages_filters_and_search_come_from_the_index(project):
    ids = _archived(7)
    first = archive_index.archive_page("demo", limit=3)
    assert [i.archive_id for i in first.items] == ids[::-1][:3]
    assert first.total == 7 and first.prev_cursor is None
    second = archive_index.archive_page("demo", after=first.next_cursor, limit=3)
    assert [i.archive_id for i in second.items] == ids[::-1][3:6]
    back = archive_index.archive_page("demo", before=second.prev_cursor, limit=3)
    assert [i.archive_id for i in back.items] == ids[::-1][:3]
    last = archive_index.archive_page("demo", last=True, limit=3)
    assert [i.archive_id for i in last.items] == ids[::-1][4:] and last.next_cursor is None
    assert [i.name for i in archive_index.archive_page("demo", search="gone-3").items] == ["gone-3"]
    assert archive_index.archive_page("demo", status="failed").total == 0
    assert archive_index.archive_page("demo", status="cancelled", type="bash").total == 7


def test_retention_removes_folder_and_entry(project, settings):
    ids = _archived(3)
    removed = archive_index.apply_archive_retention("demo", keep_last=1)
    assert sorted(p.name for p in removed) == sorted(ids[:2])
    assert [i.archive_id for i in archive_index.archive_page("demo").items] == [ids[2]]
    later = datetime.now(UTC) + timedelta(days=30)
    archive_index.apply_archive_retention("demo", max_age_days=1, now=later)
    assert archive_index.archive_page("demo").total == 0


def test_reindex_rebuilds_the_index_from_the_folders(project, settings):
    ids = _archived(3)
    db = settings.store.db
    store_index.clear_project(db, "demo")
    assert archive_index.archive_page("demo").total == 0
    shutil.rmtree(settings.archive_root / "demo" / ids[0])
    assert archive_index.rebuild_archive_index("demo") == 2
    page = archive_index.archive_page("demo")
    assert [i.archive_id for i in page.items] == ids[:0:-1] and page.total == 2


def test_a_common_search_pages_newest_first_and_says_more(project, monkeypatch):
    _archived(5)
    monkeypatch.setattr(store_index, "SEARCH_SET_LIMIT", 2)  # more matches than the index set
    page = archive_index.archive_page("demo", search="gone", limit=2)
    assert [i.name for i in page.items] == ["gone-4", "gone-3"]
    assert (page.total, page.total_capped) == (2, True)
    rest = archive_index.archive_page("demo", search="gone", limit=2, after=page.next_cursor)
    assert [i.name for i in rest.items] == ["gone-2", "gone-1"]
