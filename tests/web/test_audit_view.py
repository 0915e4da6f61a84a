"""The audit page: actions in words, targets as links, filters in the URL, every door."""

from __future__ import annotations

import re

from webapp import orchestration
from webapp.accounts import audit
from webapp.web import audit_view


def rows(html: str) -> list[tuple[str, str, str]]:
    found = re.findall(
        r'<tr data-audit-id="\d+" data-actor="(.*?)" data-action="(.*?)" data-target="(.*?)">',
        html,
    )
    return [tuple(row) for row in found]


def record(db, actor: str, action: str, target: str, at: str) -> None:
    audit.record(db, actor=actor, action=action, target=target, at=at)


def test_actions_read_as_words_and_targets_link_to_what_they_name(admin_client, accounts_db):
    record(accounts_db, "ann", "task.stop", "demo/aaaaa", "2030-01-01T10:00:00.000000")
    record(accounts_db, "ann", "task.delete", "demo/bbbbb", "2030-01-01T11:00:00.000000")
    record(accounts_db, "ann", "project.update", "demo", "2030-01-01T12:00:00.000000")
    record(accounts_db, "ann", "graph.cancel", "demo/g1234", "2030-01-01T13:00:00.000000")
    record(accounts_db, "ann", "user.role", "bob", "2030-01-01T14:00:00.000000")
    record(accounts_db, "ann", "project.delete", "gone", "2030-01-01T15:00:00.000000")
    html = admin_client.get("/admin/audit").get_data(as_text=True)
    for words in ("stopped task", "deleted task", "changed settings of project",
                  "cancelled workflow", "changed role of user"):  # fmt: skip
        assert f">{words}</a>" in html
    assert "task.stop</" not in html and "<code>" not in html
    assert '<a href="/projects/demo/tasks/aaaaa">demo/aaaaa</a>' in html
    assert '<a href="/projects/demo/archive?q=bbbbb">demo/bbbbb</a>' in html
    assert '<a href="/projects/demo">demo</a>' in html
    assert '<a href="/projects/demo/graphs/g1234">demo/g1234</a>' in html
    assert '<a href="/admin/users#user-bob">bob</a>' in html
    assert '<a href="/projects/gone/archive">gone</a>' in html
    # The action menu of the filter offers the same words.
    assert '<option value="task.stop">stopped task</option>' in html


def test_filters_by_who_action_target_and_date_live_in_the_url(admin_client, accounts_db):
    record(accounts_db, "ann", "task.stop", "demo/aaaaa", "2030-01-01T10:00:00.000000")
    record(accounts_db, "bob", "task.stop", "other/ccccc", "2030-01-02T10:00:00.000000")
    record(accounts_db, "bob", "project.update", "demo", "2030-01-03T10:00:00.000000")
    record(accounts_db, "bob", "task.stop", "demolition/ddddd", "2030-01-03T11:00:00.000000")

    def get(query: str) -> list[tuple[str, str, str]]:
        return rows(admin_client.get(f"/admin/audit?{query}").get_data(as_text=True))

    assert get("target=demo") == [("bob", "project.update", "demo"),
                                  ("ann", "task.stop", "demo/aaaaa")]  # fmt: skip
    assert get("target=demo/aaaaa") == [("ann", "task.stop", "demo/aaaaa")]
    assert get("user=bob&action=task.stop") == [("bob", "task.stop", "demolition/ddddd"),
                                                ("bob", "task.stop", "other/ccccc")]  # fmt: skip
    assert get("user=bob&since=2030-01-02&until=2030-01-02") == [
        ("bob", "task.stop", "other/ccccc")
    ]
    html = admin_client.get("/admin/audit?user=bob").get_data(as_text=True)
    # Each cell narrows the current filter further with one click.
    assert 'href="/admin/audit?user=bob&amp;action=task.stop' in html
    assert 'href="/admin/audit?user=bob&amp;target=other/ccccc' in html


def test_api_audit_takes_the_target_filter(client, api_headers, accounts_db):
    headers = api_headers("admin")
    record(accounts_db, "ann", "task.stop", "demo/aaaaa", "2030-01-01T10:00:00.000000")
    record(accounts_db, "ann", "task.stop", "other/bbbbb", "2030-01-01T10:00:00.000000")
    page = client.get("/api/v1/audit?target=demo", headers=headers).json
    assert [item["target"] for item in page["items"]] == ["demo/aaaaa"]


def test_an_unrecorded_change_is_named_in_words_never_by_its_route(admin_client, project):
    task = orchestration.task_new("demo", name="t", payload="true", actor="test")
    # A bulk stop that only shows its confirmation changes nothing on the server side.
    admin_client.post("/projects/demo/bulk", data={"action": "stop", "task": task.task_id})
    html = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "tasks_actions" not in html
    assert audit_view.fallback_action("tasks_actions.bulk") == "task.bulk"
    assert audit_view.fallback_action("project_settings.update") == "project.update"
    assert audit_view.label("task.bulk") == "task: bulk"


def test_a_run_the_worker_loses_is_on_record(app, project, worker, accounts_db, wait_for):
    task = orchestration.task_new("demo", name="sleeper", payload="sleep 60", actor="test")
    wait_for(
        lambda: orchestration.get_task_meta("demo", task.task_id).status == "running",
        step=worker.run_once,
    )
    assert worker.stop(15.0)
    entry = audit.query(accounts_db, action="task.lost").items[0]
    assert (entry.actor, entry.target) == (worker.id, f"demo/{task.task_id}")
    assert entry.detail == "run 1: the server stopped while it ran"
    assert audit_view.label(entry.action) == "lost task (its worker died)"
