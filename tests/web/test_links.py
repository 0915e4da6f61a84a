"""Task links built from one prefix are exactly what url_for gives for each endpoint."""

from __future__ import annotations

from types import SimpleNamespace

from flask import url_for

from webapp.web.links import ENDPOINTS, UrlMemo, task_links


def test_every_task_link_matches_its_route(app):
    task = SimpleNamespace(project_id="demo-1", task_id="k3v8h")
    with app.test_request_context("/"):
        links = task_links(task)
        for attribute, endpoint in ENDPOINTS.items():
            expected = url_for(endpoint, project_id=task.project_id, task_id=task.task_id)
            assert getattr(links, attribute) == expected, endpoint


def test_remembered_urls_are_url_for_under_any_script_root(app):
    memo = app.jinja_env.globals["url_for"]
    calls = [
        ("static", {"filename": "app.css"}),
        ("projects.show", {"project_id": "demo-1", "status": "failed", "page": 2}),
        ("projects.show", {"project_id": "a b/c"}),
        ("tasks.show", {"project_id": "demo-1", "task_id": "k3v8h"}),
        ("projects.index", {}),
    ]
    for root in ("", "/dash"):
        with app.test_request_context("/", base_url=f"http://localhost{root}"):
            for _ in range(2):  # built, then remembered
                for endpoint, values in calls:
                    assert memo(endpoint, **values) == url_for(endpoint, **values), (root, endpoint)
            assert memo("projects.index").startswith(f"{root}/")
            external = memo("projects.index", _external=True)
            assert external == url_for("projects.index", _external=True)
            assert external.startswith("http://")
            assert memo("projects.show", project_id="p", _anchor="log").endswith("/p#log")
            assert memo("projects.show", project_id="p", status=["a", "b"]).endswith(
                "?status=a&status=b"
            )


def test_the_url_memo_stays_bounded(app):
    memo = UrlMemo(app, size=3)
    with app.test_request_context("/"):
        urls = [memo("projects.show", project_id=f"p{n}") for n in range(10)]
    assert urls[9] == "/projects/p9"
    assert len(memo._urls) <= 3
