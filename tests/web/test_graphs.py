"""Workflow pages: the list, the new-workflow form and its messages, a workflow's live page,
cancel and retry, roles and errors."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from webapp import orchestration
from webapp.accounts import audit

CHAIN = {
    "title": "release",
    "tasks": [
        {"key": "prepare", "payload": "echo ready"},
        {"key": "build", "payload": "echo building; exit 3", "after": ["prepare"]},
        {"key": "deploy", "payload": "echo never", "after": ["build"]},
        {"key": "cleanup", "payload": "echo tidy", "after": ["deploy"], "finally": True},
    ],
}


def text(response) -> str:
    return response.get_data(as_text=True)


def create(client, definition, title: str = ""):
    return client.post(
        "/projects/demo/graphs/new", data={"title": title, "definition": json.dumps(definition)}
    )


def member_row(html: str, task_id: str) -> str:
    match = re.search(rf'<tr id="member-{task_id}".*?</tr>', html, re.S)
    assert match, f"no row for {task_id}"
    return match.group(0)


def test_the_project_has_a_workflows_tab_with_the_list(operator_client, project):
    html = text(operator_client.get("/projects/demo"))
    assert 'href="/projects/demo/graphs"' in html
    page = operator_client.get("/projects/demo/graphs")
    assert page.status_code == 200
    assert "No workflows yet." in text(page) and 'aria-current="page">Workflows' in text(page)


def test_creating_a_workflow_shows_its_tasks_in_dependency_order(
    operator_client, project, accounts_db
):
    definition = {
        "title": "diamond",
        "tasks": [
            {"key": "join", "payload": "echo join", "after": ["left", "right"]},
            {"key": "left", "payload": "echo left", "after": ["root"]},
            {"key": "right", "payload": "echo right", "after": ["root"]},
            {"key": "root", "payload": "echo root"},
        ],
    }
    response = create(operator_client, definition)
    assert response.status_code == 303
    graph = orchestration.graph_list("demo")[0]
    assert response.location == f"/projects/demo/graphs/{graph.graph_id}"
    html = text(operator_client.get(response.location))
    names = re.findall(r'<td class="name">([^<]*)</td>', html)
    assert names == ["root", "left", "right", "join"]  # keys become names; parents first
    ids = {m.name: m.task_id for m in orchestration.graph_get("demo", graph.graph_id).members}
    join = member_row(html, ids["join"])
    assert f'href="#member-{ids["left"]}"' in join and f'href="#member-{ids["right"]}"' in join
    assert f'href="/projects/demo/tasks/{ids["root"]}"' in html
    assert 'hx-get="/projects/demo/graphs/' in html  # a queued workflow polls
    assert "Cancel workflow" in html and "Retry failed tasks" not in html
    entry = audit.query(accounts_db, limit=1).items[0]
    assert (entry.actor, entry.action, entry.target) == (
        "operator",
        "graph.create",
        f"demo/{graph.graph_id}",
    )
    listing = text(operator_client.get("/projects/demo/graphs"))
    assert "diamond" in listing and 'data-count="queued"' in listing and "4 queued" in listing


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ('{"tasks": [', "line 1, column 12: not valid JSON"),
        (
            json.dumps([{"key": "a", "payload": "x", "after": ["b"]}]),
            "tasks[0] &#34;a&#34; → after: unknown dependency &#34;b&#34;",
        ),
        (
            json.dumps(
                [
                    {"key": "a", "payload": "x", "after": ["b"]},
                    {"key": "b", "payload": "y", "after": ["a"]},
                ]
            ),
            "the tasks form a cycle: &#34;a&#34; runs after &#34;b&#34;, &#34;b&#34; runs after",
        ),  # fmt: skip
        (
            json.dumps([{"key": "a", "payload": "x", "type": "fish"}]),
            "tasks[0] &#34;a&#34; → type: unknown type &#39;fish&#39;",
        ),
        ("", "Paste a workflow definition (JSON or YAML)."),
    ],
)
def test_a_bad_definition_is_shown_again_with_its_problems(
    operator_client, project, definition, message
):
    response = operator_client.post(
        "/projects/demo/graphs/new", data={"title": "kept title", "definition": definition}
    )
    html = text(response)
    assert response.status_code == 422
    assert message in html
    assert 'value="kept title"' in html
    textarea = re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S).group(1)
    assert textarea.strip() == str(escape(definition))  # the input is kept
    assert orchestration.graph_list("demo") == []


def test_a_failing_middle_blocks_its_child_and_the_finally_task_still_runs(
    operator_client, project, worker, wait_for
):
    url = create(operator_client, CHAIN).location
    graph_id = url.rsplit("/", 1)[1]
    wait_for(lambda: orchestration.graph_get("demo", graph_id).is_terminal, step=worker.run_once)
    ids = {m.name: m.task_id for m in orchestration.graph_get("demo", graph_id).members}
    html = text(operator_client.get(url))
    assert 'id="graph-live" data-status="failed"' in html
    assert "hx-get" not in html.split('id="graph-live"', 1)[1].split(">", 1)[0]  # no polling
    assert 'data-status="failed"' in member_row(html, ids["build"])
    deploy = member_row(html, ids["deploy"])
    assert 'data-status="blocked"' in deploy
    blocked_by = re.search(r'<td class="blocked-by">(.*?)</td>', deploy, re.S).group(1)
    assert ids["build"] in blocked_by and "(failed)" in blocked_by
    assert 'data-status="completed"' in member_row(html, ids["cleanup"])
    assert "finally" in member_row(html, ids["cleanup"])
    assert orchestration.graph_get("demo", graph_id).blocked_by == {ids["deploy"]: ids["build"]}
    assert "Retry failed tasks" in html and "Cancel workflow" not in html
    listing = text(operator_client.get("/projects/demo/graphs"))
    assert "2 completed" in listing and "1 failed" in listing and "1 blocked" in listing


def test_the_list_reads_every_workflow_s_counts_in_the_same_two_queries(
    operator_client, project, bound
):
    def listed():
        statements: list[str] = []
        db = bound.store.db
        db.conn.set_trace_callback(statements.append)
        try:
            graphs = orchestration.graph_list("demo")
        finally:
            db.conn.set_trace_callback(None)
        return graphs, [s for s in statements if s.lstrip().upper().startswith("SELECT")]

    create(operator_client, CHAIN)
    _, one = listed()
    for _ in range(4):
        create(operator_client, CHAIN)
    graph_id = orchestration.graph_list("demo")[0].graph_id
    member = orchestration.graph_get("demo", graph_id).members[0]
    orchestration.graph_cancel("demo", graph_id)
    orchestration.task_delete("demo", member.task_id)  # a deleted member is no longer counted
    graphs, five = listed()
    assert len(five) == len(one) and len(graphs) == 5
    assert graphs[0].counts == {"cancelled": 3}
    assert [g.counts for g in graphs[1:]] == [{"queued": 4}] * 4
    assert all(g.counts == orchestration.graph_get("demo", g.graph_id).counts for g in graphs)
    listing = text(operator_client.get("/projects/demo/graphs"))
    assert "3 cancelled" in listing and listing.count("4 queued") == 4


def test_the_live_part_answers_204_until_something_changes(operator_client, project):
    url = create(operator_client, CHAIN).location
    version = orchestration.project_version("demo")
    unchanged = operator_client.get(f"{url}/live?v={version}")
    assert unchanged.status_code == 204 and unchanged.get_data() == b""
    changed = operator_client.get(f"{url}/live?v={version - 1}")
    assert changed.status_code == 200 and changed.headers["HX-Trigger"] == "graph-changed"
    html = text(changed)
    assert html.startswith('<div id="graph-live"') or '<div id="graph-live"' in html
    assert f'/live?v={version}"' in html
    assert 'id="task-counts" class="counts" hx-swap-oob="true"' in html
    assert operator_client.get("/projects/nope/graphs/x/live?v=1").status_code == 404


def test_cancel_a_queued_workflow_then_cancelling_again_is_a_conflict(
    operator_client, project, accounts_db
):
    url = create(operator_client, CHAIN).location
    response = operator_client.post(f"{url}/cancel", follow_redirects=True)
    assert response.status_code == 200
    html = text(response)
    assert "cancelled." in html and 'id="graph-live" data-status="cancelled"' in html
    assert audit.query(accounts_db, limit=1).items[0].action == "graph.cancel"
    again = operator_client.post(f"{url}/cancel")
    assert again.status_code == 409 and "already cancelled" in text(again)
    retry = operator_client.post(f"{url}/retry")
    assert retry.status_code == 409 and "only failed graphs can be rerun" in text(retry)


def test_retry_a_failed_workflow_queues_it_again(operator_client, project, worker, wait_for):
    url = create(operator_client, CHAIN).location
    graph_id = url.rsplit("/", 1)[1]
    wait_for(lambda: orchestration.graph_get("demo", graph_id).is_terminal, step=worker.run_once)
    response = operator_client.post(f"{url}/retry", follow_redirects=True)
    assert response.status_code == 200
    assert 'id="graph-live" data-status="queued"' in text(response)
    assert "queued again" in text(response)


def test_viewers_read_workflows_but_cannot_change_them(viewer_client, operator_client, project):
    url = create(operator_client, CHAIN).location
    html = text(viewer_client.get(url))
    assert "release" in html and "Cancel workflow" not in html and "New workflow" not in html
    assert viewer_client.get("/projects/demo/graphs/new").status_code == 403
    assert viewer_client.post(f"{url}/cancel").status_code == 403
    assert create(viewer_client, CHAIN).status_code == 403
    assert orchestration.graph_get("demo", url.rsplit("/", 1)[1]).status == "queued"


def test_unknown_workflows_and_projects_are_404_naming_them(operator_client, project):
    response = operator_client.get("/projects/demo/graphs/nope")
    assert response.status_code == 404 and "nope" in text(response)
    assert operator_client.get("/projects/ghost/graphs").status_code == 404
    assert operator_client.get("/projects/ghost/graphs/new").status_code == 404
    assert operator_client.post("/projects/demo/graphs/nope/cancel").status_code == 404


ODD = st.one_of(
    st.text(max_size=200),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "key",
                        "id",
                        "payload",
                        "after",
                        "type",
                        "finally",
                        "required",
                        "timeout",
                        "name",
                        "tasks",
                        "title",
                        "x",
                    ]
                ),
                inner,
                max_size=5,
            )
        ),  # fmt: skip
        max_leaves=20,
    ).map(json.dumps),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(definition=ODD, title=st.text(max_size=30))
def test_no_definition_makes_the_form_fail(operator_client, project, definition, title):
    response = operator_client.post(
        "/projects/demo/graphs/new", data={"title": title, "definition": definition}
    )
    assert response.status_code in (303, 400, 422), text(response)


def test_a_member_task_page_links_to_its_workflow_and_offers_no_stop(operator_client, project):
    url = create(operator_client, CHAIN).location
    member = orchestration.graph_get("demo", url.rsplit("/", 1)[1]).members[0]
    html = text(operator_client.get(f"/projects/demo/tasks/{member.task_id}"))
    assert f'href="{url}"' in html and "stop and retry it there" in html
    assert 'data-action="stop"' not in html and ">Stop</button>" not in html
    response = operator_client.post(f"/projects/demo/tasks/{member.task_id}/stop")
    assert response.status_code == 409 and "belongs to a graph" in text(response)
