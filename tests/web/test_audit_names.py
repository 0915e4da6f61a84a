"""The dashboard and the API put the same action on record under the same name."""

from __future__ import annotations

import json

from webapp import orchestration
from webapp.accounts import audit

GRAPH = {"title": "g", "tasks": [{"key": "a", "payload": "true"}]}


def actions(db, actor: str) -> list[str]:
    page = audit.query(db, actor=actor, limit=100)
    return [e.action for e in reversed(page.items) if e.action not in ("login", "token.create")]


def test_same_actions_same_names_from_pages_and_api(
    login_as, client, api_headers, project, accounts_db
):
    admin = login_as("admin")
    created = admin.post("/projects/demo/tasks/new", data={"type": "bash", "payload": "true"})
    page_task = created.location.rsplit("/", 1)[1]
    admin.post(f"/projects/demo/tasks/{page_task}/rename", data={"name": "renamed"})
    admin.post(f"/projects/demo/tasks/{page_task}/stop")
    admin.post(f"/projects/demo/tasks/{page_task}/retry")
    admin.post(f"/projects/demo/tasks/{page_task}/stop")
    admin.post(f"/projects/demo/tasks/{page_task}/delete")
    admin.post("/projects", data={"project_id": "from-page"})
    graph = admin.post("/projects/demo/graphs/new", data={"definition": json.dumps(GRAPH)})
    admin.post(f"{graph.location}/cancel")
    from_pages = actions(accounts_db, "admin")

    headers = api_headers("admin")
    api = "/api/v1/projects/demo"
    task = client.post(f"{api}/tasks", json={"payload": "true"}, headers=headers).json["task_id"]
    client.patch(f"{api}/tasks/{task}", json={"name": "renamed"}, headers=headers)
    client.post(f"{api}/tasks/{task}/stop", headers=headers)
    client.post(f"{api}/tasks/{task}/retry", headers=headers)
    client.post(f"{api}/tasks/{task}/stop", headers=headers)
    client.delete(f"{api}/tasks/{task}", headers=headers)
    client.post("/api/v1/projects", json={"id": "from-api"}, headers=headers)
    graph_id = client.post(f"{api}/graphs", json=GRAPH, headers=headers).json["graph_id"]
    client.post(f"{api}/graphs/{graph_id}/cancel", headers=headers)
    from_api = actions(accounts_db, "admin")[len(from_pages) :]
    expected = [
        "task.create",
        "task.rename",
        "task.stop",
        "task.retry",
        "task.stop",
        "task.delete",
        "project.create",
        "graph.create",
        "graph.cancel",
    ]
    assert from_pages == expected
    assert from_api == expected
    assert orchestration.graph_get("demo", graph_id).status == "cancelled"
