"""Every log searchable: indexed in the background in whole lines, found ranked, kept
through archiving, dropped by retention."""

from __future__ import annotations

import os

from webapp import orchestration as orch
from webapp.orchestration import archive_index, search
from webapp.store import log_search


def _run(settings, payload: str) -> orch.TaskMeta:
    from webapp.worker import Worker

    task = orch.task_new("demo", name="logger", payload=payload, actor="alice")
    worker = Worker(settings, threads=1, name="search-test")
    try:
        worker.run_once()
        while not orch.get_task_meta("demo", task.task_id).is_terminal:
            worker._wake.wait(0.05)  # deadline loop while the real subprocess runs
    finally:
        worker.stop()
    return orch.get_task_meta("demo", task.task_id)


def test_logs_are_found_by_their_words_and_stay_found_once_archived(project, settings):
    task = _run(settings, "seq 1 5000 | sed 's/^/step /'; echo 'needle in the haystack'; seq 3")
    assert search.search_logs("needle haystack", project_id="demo") == []  # not indexed yet
    search.index_all()
    [hit] = search.search_logs("haystack NEEDLE", project_id="demo")
    assert (hit.task_id, hit.run_no, hit.archive_id) == (task.task_id, 1, None)
    assert hit.line_no == 5001 and hit.text == "needle in the haystack"
    path = orch.run_log_path("demo", task.task_id, 1)
    with open(path, "rb") as fh:
        fh.seek(hit.offset)
        assert fh.readline() == b"needle in the haystack\n"
    assert search.search_logs("needle", project_id="demo", status="failed") == []
    assert search.search_logs("needle", project_id="demo", archived=True) == []
    archive_dir = orch.task_delete("demo", task.task_id, actor="bob").archive_dir
    [archived] = search.search_logs("needle", project_id="demo", status="completed")
    assert archived.archive_id == archive_dir.name and archived.line_no == 5001
    assert archived.offset == hit.offset  # the index moved with the log, nothing re-read
    archive_index.apply_archive_retention("demo", keep_last=0)
    assert search.search_logs("needle", project_id="demo") == []


def test_a_growing_log_is_indexed_in_whole_lines_within_a_budget(project, settings, tmp_path):
    task = orch.task_new("demo", name="grower", payload="true", actor="alice")
    search.index_step()  # notes the new run's log
    path = orch.run_log_path("demo", task.task_id, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = b"alpha beta gamma delta " * 10 + b"\n"
    with open(path, "wb") as fh:
        fh.write(line * 20_000 + b"partial omega")  # ~4.6 MB and a line still being written
    work = search.index_step(budget=1024 * 1024)
    assert 0 < work <= 1024 * 1024  # one budget per step, never the whole file at once
    search.index_all(budget=1024 * 1024)
    assert search.search_logs("omega", project_id="demo") == []  # not a whole line yet
    with open(path, "ab") as fh:
        fh.write(b" done\n")
    search.index_all()
    [hit] = search.search_logs("omega", project_id="demo")
    assert hit.line_no == 20_001 and hit.text == "partial omega done"
    [row] = log_search.files_of_task(settings.store.db, "demo", task.task_id)
    assert row["indexed_bytes"] == os.path.getsize(path) and not row["done"]  # still queued
