"""The search page: log lines ranked and linked to their line, filters, permalinks."""

from __future__ import annotations

import re

from webapp import orchestration
from webapp.orchestration import search


def test_search_page_links_each_line_to_its_log_window(viewer_client, project, run_to_end):
    task = orchestration.task_new(
        "demo", name="finder", payload="seq 1 300; echo 'unique marmot sighting'", actor="test"
    )
    run_to_end("demo", task.task_id)
    search.index_all()
    html = viewer_client.get("/projects/demo/search?q=marmot").get_data(as_text=True)
    [url] = re.findall(r'href="([^"]+)" class="mono" data-line-link', html)
    url = url.replace("&amp;", "&")
    assert url.endswith("#L301") and "line=301" in url and f"/tasks/{task.task_id}/log" in url
    assert "<mark>marmot</mark>" in html
    window = viewer_client.get(url.split("#")[0]).get_data(as_text=True)
    assert '<span id="L301" class="log-line-target">unique <mark>marmot</mark>' in window
    filtered = viewer_client.get("/projects/demo/search?q=marmot&status=failed")
    assert "data-line-link" not in filtered.get_data(as_text=True)
    archived_only = viewer_client.get("/projects/demo/search?q=marmot&in=archived")
    assert "data-line-link" not in archived_only.get_data(as_text=True)
    bad = viewer_client.get(f"/projects/demo/tasks/{task.task_id}/log?line=x")
    assert bad.status_code == 400
    assert viewer_client.get("/projects/demo/search?in=attic&q=x").status_code == 400
