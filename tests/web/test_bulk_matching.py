"""Bulk actions over "all N matching this filter": a preview by status first, then exactly
the matching tasks, with one audit entry naming the filter."""

from __future__ import annotations

import re

from webapp import orchestration
from webapp.accounts import audit
from webapp.web.sessions import accounts_db


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="task-([a-z0-9]{5})"', html)


def _cancelled(n: int, actor: str) -> list[str]:
    ids = []
    for i in range(n):
        task = orchestration.task_new("demo", name=f"{actor}-{i}", payload="true", actor=actor)
        orchestration.task_stop("demo", task.task_id, actor=actor)
        ids.append(task.task_id)
    return ids


def test_retry_all_matching_across_20_pages_retries_exactly_those(admin_client, project, app):
    # ~20 s: 1,050 real tasks through the lifecycle, 1,000 of them retried by one request
    alice = _cancelled(1000, "alice")
    bob = _cancelled(50, "bob")
    queued_by_alice = orchestration.task_new(
        "demo", name="still-queued", payload="true", actor="alice"
    )
    listing = "/projects/demo?started_by=alice&status=cancelled"
    html = admin_client.get(listing).get_data(as_text=True)
    assert "1,000 matching" in html
    seen, url = [], listing
    while url:  # 20 pages of 50
        html = admin_client.get(url).get_data(as_text=True)
        seen += row_ids(html)
        found = re.search(r'rel="next" href="([^"]+)"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == 1000 and set(seen) == set(alice)
    assert "Retry all" in html
    preview = admin_client.get(
        "/projects/demo/bulk-matching?action=retry&started_by=alice&status=cancelled"
    )
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Retry <span data-affected>1000</span> tasks?" in body
    assert re.search(r'data-status="cancelled">.*?<span class="num">1000</span>', body)
    assert orchestration.get_task_meta("demo", alice[0]).status == "cancelled"  # not yet
    done = admin_client.post(
        "/projects/demo/bulk-matching",
        data={"action": "retry", "started_by": "alice", "status": "cancelled"},
    )
    assert done.status_code == 303
    states = orchestration.get_all_task_states("demo", alice + bob)
    assert all(states[t] == "queued" for t in alice)
    assert all(states[t] == "cancelled" for t in bob)
    assert orchestration.get_task_meta("demo", alice[0]).run_no == 2
    assert orchestration.get_task_meta("demo", queued_by_alice.task_id).run_no == 1
    with app.app_context():
        [entry] = audit.query(accounts_db(), action="task.bulk_retry").items
    assert "started_by=alice" in entry.target and "status=cancelled" in entry.detail
    assert "1000 done, 0 failed" in entry.detail


def test_preview_counts_each_status_and_skips_what_the_action_does_not_fit(
    operator_client, project
):
    _cancelled(3, "carol")
    orchestration.task_new("demo", name="waiting", payload="true", actor="carol")
    page = operator_client.get("/projects/demo/bulk-matching?action=stop&started_by=carol")
    body = page.get_data(as_text=True)
    assert "Stop <span data-affected>1</span> task?" in body
    assert "<span data-total>4</span> tasks match <code>started_by=carol</code>" in body
    assert "(skipped)" in body  # the cancelled ones
    assert operator_client.get("/projects/demo/bulk-matching?action=delete").status_code == 403
    assert operator_client.get("/projects/demo/bulk-matching?action=explode").status_code == 400
    assert operator_client.get("/projects/demo/bulk-matching?action=stop&exit=x").status_code == 400
