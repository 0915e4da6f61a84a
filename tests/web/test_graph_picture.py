"""The workflow picture: nodes and edges from the cached layered layout, statuses as classes,
the edge that blocked a member marked, fan-outs folded into group nodes; members named by
their keys; 10,000-member definitions accepted."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from webapp import orchestration
from webapp.web import graph_picture, graph_view
from webapp.web.graph_definition import DefinitionInvalid, check_definition


def text(response) -> str:
    return response.get_data(as_text=True)


def diamond(fail_c: bool = True) -> dict:
    return {"title": "diamond", "tasks": [
        {"key": "a", "payload": "true"},
        {"key": "b", "payload": "true", "after": ["a"]},
        {"key": "c", "payload": "exit 3" if fail_c else "true", "after": ["a"]},
        {"key": "d", "payload": "true", "after": ["b", "c"]},
        {"key": "e", "payload": "true", "after": ["d"], "finally": True},
    ]}  # fmt: skip


def nodes(html: str) -> dict[str, str]:
    """data-name -> status class of each node in the picture."""
    found = re.findall(r'<a href="[^"]*" id="[^"]*" class="node status-(\w+)[^"]*" '
                       r'data-status="\w+" data-name="([^"]*)"', html)  # fmt: skip
    return {name: status for status, name in found}


def geometry(html: str) -> str:
    """The picture without what a status changes (classes, status texts, tooltips)."""
    start = html.index("<svg", html.index('id="graph-picture"'))  # not an icon before it
    svg = html[start : html.index("</svg>", start)]
    svg = re.sub(r'(class="node-detail">)[^<]*', r"\1", svg)
    svg = re.sub(r"<title>.*?</title>", "", svg)
    return re.sub(r'class="(node|edge)[^"]*"|data-status="\w+"', "", svg)


def test_a_failed_member_blocks_its_child_with_the_edge_marked(
    operator_client, project, worker, wait_for
):
    graph = orchestration.graph_new("demo", diamond(), actor="operator")
    url = f"/projects/demo/graphs/{graph.graph_id}"
    queued = text(operator_client.get(url))
    assert nodes(queued) == dict.fromkeys("abcde", "queued")  # members named by their keys
    wait_for(lambda: orchestration.graph_get("demo", graph.graph_id).is_terminal,
             step=worker.run_once)  # fmt: skip
    html = text(operator_client.get(url))
    assert nodes(html) == {"a": "completed", "b": "completed", "c": "failed", "d": "blocked",
                           "e": "completed"}  # fmt: skip
    ids = {m.name: m.task_id for m in orchestration.graph_get("demo", graph.graph_id).members}
    blocked = re.findall(r'<path id="([^"]+)" class="edge blocked"', html)
    assert blocked == [f"e-t-{ids['c']}-t-{ids['d']}"]
    assert f'href="/projects/demo/tasks/{ids["c"]}"' in html  # a node links to its task
    assert geometry(html) == geometry(queued)  # only statuses changed: same picture


def test_the_layout_is_computed_once_per_definition(project):
    graph = orchestration.graph_new("demo", diamond(), actor="operator")
    graph_picture._layout.cache_clear()
    for _ in range(3):
        graph_view.picture_context(orchestration.graph_get("demo", graph.graph_id))
    info = graph_picture._layout.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_a_fan_out_folds_into_one_group_node_and_its_join_lists_a_count(operator_client, project):
    shards = [{"key": f"s{i}", "payload": "true", "after": ["split"]} for i in range(200)]
    definition = {"title": "fan", "tasks": [
        {"key": "split", "payload": "true"}, *shards,
        {"key": "join", "payload": "true", "after": [s["key"] for s in shards]},
    ]}  # fmt: skip
    graph = orchestration.graph_new("demo", definition, actor="operator")
    html = text(operator_client.get(f"/projects/demo/graphs/{graph.graph_id}"))
    assert html.count('class="node status-') == 3
    assert "<title>200 tasks: 200 queued (s0 … s199)</title>" in html
    assert html.count('<tr id="member-') == 2 and 'class="member-group"' in html
    assert "s17</td>" not in html  # no member of the group is listed by default
    group = re.search(r'href="\?group=(g-[^"#]+)#members">200 tasks</a>', html).group(1)
    page = text(operator_client.get(f"/projects/demo/graphs/{graph.graph_id}?group={group}"))
    assert page.count('<tr id="member-') == 2 + 50 and "page 1 of 4" in page
    last = text(operator_client.get(f"/projects/demo/graphs/{graph.graph_id}"
                                    f"?group={group}&page=9"))  # fmt: skip
    assert "page 4 of 4" in last and ">s199</td>" in last


def test_same_named_members_get_unique_names_and_keys_become_names(project):
    graph = orchestration.graph_new("demo", {"title": "names", "tasks": [
        {"key": "build", "payload": "true"},
        {"key": "x", "name": "build", "payload": "true"},
        {"key": "Test Suite", "payload": "true"},
    ]})  # fmt: skip
    assert [m.name for m in graph.members] == ["build", "build-2", "test-suite"]


def test_10000_members_are_accepted_and_ordered_in_linear_time():
    chain = [{"key": f"k{i}", "payload": "true", "after": [f"k{i - 1}"] if i else []}
             for i in range(10_001)]  # fmt: skip
    checked = check_definition({"title": "long", "tasks": chain[:10_000][::-1]})
    assert len(checked["tasks"]) == 10_000
    with pytest.raises(DefinitionInvalid, match="1 to 10000 tasks"):
        check_definition({"title": "too long", "tasks": chain})
    members = [SimpleNamespace(task_id=t["key"]) for t in checked["tasks"]]
    graph = SimpleNamespace(
        members=members, dependencies={t["key"]: t["after"] for t in checked["tasks"]}
    )
    order = graph_view.dependency_order(graph)  # was quadratic: a set rebuilt per member
    assert order[:3] == ["k0", "k1", "k2"] and len(order) == 10_000
