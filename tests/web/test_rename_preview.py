"""Rename shows the name a task will get before it is saved, and why a name is refused."""

from __future__ import annotations

from webapp import orchestration

HTMX = {"HX-Request": "true"}


def preview(client, task_id: str, typed: str) -> str:
    url = f"/projects/demo/tasks/{task_id}/rename/preview"
    response = client.get(url, query_string={"name": typed}, headers=HTMX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_preview_shows_the_sanitised_name_and_what_changed(operator_client, demo_task):
    html = preview(operator_client, demo_task.task_id, "a b/c")
    assert "Will be saved as <code data-preview-name>a-bc</code>" in html
    assert "spaces became hyphens" in html and "removed what names cannot hold: /" in html
    assert "Will be saved as <code data-preview-name>fine</code>." in preview(
        operator_client, demo_task.task_id, "fine"
    )
    assert "its current name" in preview(operator_client, demo_task.task_id, "First")
    assert orchestration.get_task_meta("demo", demo_task.task_id).name == "first"  # unsaved


def test_preview_explains_a_refusal(operator_client, demo_task):
    html = preview(operator_client, demo_task.task_id, "///")
    assert "Cannot be saved: name must contain at least one letter" in html
    assert "Cannot be saved: name must not start with a hyphen" in preview(
        operator_client, demo_task.task_id, "-x"
    )
    escaped = preview(operator_client, demo_task.task_id, "<b>")
    assert "<b>" not in escaped and "&lt;" in escaped


def test_the_form_carries_the_preview_and_asks_for_it_as_you_type(operator_client, demo_task):
    url = f"/projects/demo/tasks/{demo_task.task_id}/rename"
    form = operator_client.get(url, headers=HTMX).get_data(as_text=True)
    assert 'id="rename-preview"' in form and 'hx-trigger="input changed delay:150ms"' in form
    refused = operator_client.post(url, data={"name": "!!!"}).get_data(as_text=True)
    assert "Cannot be saved" in refused


def test_preview_needs_the_operator_role(viewer_client, demo_task):
    url = f"/projects/demo/tasks/{demo_task.task_id}/rename/preview?name=x"
    assert viewer_client.get(url).status_code == 403
