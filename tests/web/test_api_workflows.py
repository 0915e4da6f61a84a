"""The JSON API's saved workflows: save (object or YAML), every problem named, new versions,
runs, rerun from a member, run again, delete."""

from __future__ import annotations

import pytest

from webapp import orchestration

API = "/api/v1/projects/demo"
YAML = """title: diamond
tasks:
  - {key: a, payload: "true"}
  - {key: b, payload: "true", after: [a]}
  - {key: c, payload: "exit 3", after: [a]}
  - {key: d, payload: "true", after: [b, c]}
"""


@pytest.fixture
def call(client, api_headers):
    tokens: dict[str, dict] = {}

    def request(role: str, method: str, path: str = "", **kwargs):
        headers = tokens.setdefault(role, api_headers(role))
        return client.open(API + path, method=method, headers=headers, **kwargs)

    return request


def test_save_run_fix_and_rerun_from_a_member(call, project, worker, wait_for):
    saved = call("operator", "POST", "/workflows", json={"definition": YAML})
    assert saved.status_code == 201, saved.json
    workflow = saved.json["workflow_id"]
    assert saved.json["latest_version"] == 1 and "payload: exit 3" in saved.json["yaml"]
    run = call("operator", "POST", f"/workflows/{workflow}/runs")
    assert run.status_code == 201 and run.json["workflow_version"] == 1
    graph = run.json["graph_id"]
    wait_for(lambda: orchestration.graph_get("demo", graph).is_terminal, step=worker.run_once)
    fixed = call("operator", "POST", f"/workflows/{workflow}/versions",
                 json={"definition": YAML.replace("exit 3", "true")})  # fmt: skip
    assert fixed.status_code == 201 and fixed.json["latest_version"] == 2
    c = next(m["task_id"] for m in run.json["members"] if m["name"] == "c")
    rerun = call("operator", "POST", f"/graphs/{graph}/rerun", json={"task": c})
    assert rerun.status_code == 201 and rerun.json["workflow_version"] == 2
    second = rerun.json["graph_id"]
    wait_for(lambda: orchestration.graph_get("demo", second).is_terminal, step=worker.run_once)
    runs = call("viewer", "GET", f"/workflows/{workflow}/runs").json
    assert [(r["graph_id"], r["status"]) for r in runs] == [(second, "completed"),
                                                             (graph, "failed")]  # fmt: skip
    again = call("operator", "POST", f"/graphs/{second}/again")
    assert again.status_code == 201 and again.json["graph_id"] not in (graph, second)
    listed = call("viewer", "GET", "/workflows").json
    assert [w["workflow_id"] for w in listed] == [workflow]
    assert call("operator", "DELETE", f"/workflows/{workflow}").status_code == 403
    assert call("admin", "DELETE", f"/workflows/{workflow}").status_code == 204
    assert call("viewer", "GET", f"/workflows/{workflow}").status_code == 404


def test_every_problem_is_named_and_viewers_cannot_save(call, project):
    bad = call(
        "operator",
        "POST",
        "/workflows",
        json={"definition": "- {key: a, payload: x, after: [a]}\n- {key: a, payload: y}"},
    )
    assert bad.status_code == 422
    messages = [p["message"] for p in bad.json["problems"]]
    assert any("duplicate key" in m for m in messages)
    assert any("cannot run after itself" in m for m in messages)
    assert call("viewer", "POST", "/workflows", json={"definition": YAML}).status_code == 403
