"""Task links built from one prefix are exactly what url_for gives for each endpoint."""

from __future__ import annotations

from types import SimpleNamespace

from flask import url_for

from webapp.web.links import ENDPOINTS, task_links


def test_every_task_link_matches_its_route(app):
    task = SimpleNamespace(project_id="demo-1", task_id="k3v8h")
    with app.test_request_context("/"):
        links = task_links(task)
        for attribute, endpoint in ENDPOINTS.items():
            expected = url_for(endpoint, project_id=task.project_id, task_id=task.task_id)
            assert getattr(links, attribute) == expected, endpoint
