"""The archive: deleted tasks listed newest first, filtered, and shown with their logs."""

from __future__ import annotations

import re

from webapp import orchestration


def delete_task(name: str, payload: str, run_to_end) -> str:
    task = orchestration.task_new("demo", name=name, payload=payload, actor="test")
    run_to_end("demo", task.task_id)
    result = orchestration.task_delete("demo", task.task_id, actor="test")
    return result.archive_dir.name


def test_archive_lists_deleted_tasks_newest_first_and_filters(viewer_client, project, run_to_end):
    first = delete_task("first-one", "echo one", run_to_end)
    second = delete_task("second-one", "exit 2", run_to_end)
    html = viewer_client.get("/projects/demo/archive").get_data(as_text=True)
    assert re.findall(r'data-archive="([^"]+)"', html) == [second, first]
    html = viewer_client.get("/projects/demo/archive?q=first").get_data(as_text=True)
    assert re.findall(r'data-archive="([^"]+)"', html) == [first]
    html = viewer_client.get("/projects/demo/archive?status=failed").get_data(as_text=True)
    assert re.findall(r'data-archive="([^"]+)"', html) == [second]


def test_archived_task_page_shows_snapshot_and_log(viewer_client, project, run_to_end):
    archive_id = delete_task("kept", r"printf '\033[31mred\033[0m\n'; echo oops >&2", run_to_end)
    html = viewer_client.get(f"/projects/demo/archive/{archive_id}").get_data(as_text=True)
    assert "kept" in html and "(archived)" in html
    assert "echo oops &gt;&amp;2" in html  # the full command from the snapshot
    history = html[html.index('<table class="history">') :]
    assert "test" in history and "deleting" in history  # who did what, up to the delete
    assert '<span class="ansi31">red</span>' in html
    assert '<span class="stderr" data-stream="stderr">oops' in html
    assert "data-poll-url" not in html  # an archive never changes
    searched = viewer_client.get(f"/projects/demo/archive/{archive_id}?q=oops")
    assert "1 line matches" in searched.get_data(as_text=True)
    with viewer_client.get(f"/projects/demo/archive/{archive_id}/log/download") as download:
        assert b"oops" in download.data


def test_archive_prefixes_unknown_and_ambiguous(viewer_client, project, run_to_end):
    first = delete_task("a", "true", run_to_end)
    second = delete_task("b", "true", run_to_end)
    stamp_prefix = first[:4]  # both folders start with the same year
    response = viewer_client.get(f"/projects/demo/archive/{stamp_prefix}")
    assert response.status_code == 300
    body = response.get_data(as_text=True)
    assert f"/projects/demo/archive/{first}" in body and f"/projects/demo/archive/{second}" in body
    missing = viewer_client.get("/projects/demo/archive/19990101")
    assert missing.status_code == 404 and "19990101" in missing.get_data(as_text=True)
