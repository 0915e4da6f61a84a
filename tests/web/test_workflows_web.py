"""Saved workflows in the dashboard: every definition problem shown in the form (JSON and
YAML) with the input kept, a preview picture before saving, versions, runs, rerun from a
member, run again, delete, and the timeline."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from markupsafe import escape

from webapp import orchestration
from webapp.orchestration import workflows


def text(response) -> str:
    return response.get_data(as_text=True)


ERRORS = [
    (
        "cycle",
        {"title": "loop", "tasks": [
            {"key": "a", "payload": "true", "after": ["c"]},
            {"key": "b", "payload": "true", "after": ["a"]},
            {"key": "c", "payload": "true", "after": ["b"]},
        ]},
        'definition: the tasks form a cycle: "a" runs after "c", "c" runs after "b", '
        '"b" runs after "a"',
    ),
    (
        "unknown key",
        {"title": "x", "tasks": [{"key": "a", "payload": "true", "after": ["nope"]}]},
        'tasks[0] "a" → after: unknown dependency "nope" (known keys: none)',
    ),
    (
        "duplicate key",
        {"title": "x", "tasks": [{"key": "a", "payload": "true"}, {"key": "a", "payload": "x"}]},
        'tasks[1] "a": duplicate key (tasks[0] has it too)',
    ),
    (
        "required false without finally",
        {"title": "x", "tasks": [{"key": "a", "payload": "true", "required": False}]},
        'tasks[0] "a" → required: false is only allowed on a finally task',
    ),
]  # fmt: skip


@pytest.mark.parametrize("form", ["/projects/demo/workflows/new", "/projects/demo/graphs/new"])
@pytest.mark.parametrize("syntax", ["json", "yaml"])
@pytest.mark.parametrize(("what", "definition", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_each_definition_error_is_named_in_the_form_and_the_input_kept(
    operator_client, project, form, syntax, what, definition, message
):
    source = json.dumps(definition, indent=2) if syntax == "json" else yaml.safe_dump(definition)
    response = operator_client.post(form, data={"title": "", "definition": source})
    assert response.status_code == 422
    html = text(response)
    errors = re.search(r'<ul class="field-error definition-errors".*?</ul>', html, re.S).group(0)
    assert str(escape(message)) in errors
    assert str(escape(source)) in html  # the textarea still holds exactly what was typed
    assert orchestration.graph_list("demo") == [] and workflows.workflow_list("demo") == []


def test_a_yaml_field_given_twice_is_named_with_its_line(operator_client, project):
    source = "title: x\ntasks:\n  - key: a\n    payload: one\n    payload: two\n"
    response = operator_client.post("/projects/demo/workflows/new",
                                    data={"title": "", "definition": source})  # fmt: skip
    assert response.status_code == 422
    assert "line 5, column 5: the field &#39;payload&#39; is given twice" in text(response)


DIAMOND = """title: diamond
tasks:
  - {key: a, payload: "true"}
  - {key: b, payload: "true", after: [a]}
  - {key: c, payload: "exit 3", after: [a]}
  - {key: d, payload: "true", after: [b, c]}
  - {key: e, payload: "true", after: [d], finally: true}
"""


def test_preview_draws_the_picture_without_saving(operator_client, project):
    response = operator_client.post("/projects/demo/workflows/new",
                                    data={"definition": DIAMOND, "action": "preview"})  # fmt: skip
    html = text(response)
    assert response.status_code == 200 and html.count('class="node status-queued') == 5
    assert html.count('class="edge"') == 5 and str(escape(DIAMOND)) in html
    assert workflows.workflow_list("demo") == []


def test_save_edit_run_rerun_from_and_the_runs_list(operator_client, project, worker, wait_for):
    saved = operator_client.post("/projects/demo/workflows/new",
                                 data={"definition": DIAMOND, "action": "save"})  # fmt: skip
    assert saved.status_code == 303
    workflow = workflows.workflow_list("demo")[0]
    page = operator_client.get(saved.location)
    assert "Not run yet." in text(page) and "v1" in text(page)
    run = operator_client.post(f"{saved.location}/run", data={"version": "1"})
    graph_id = run.location.rsplit("/", 1)[1]
    wait_for(lambda: orchestration.graph_get("demo", graph_id).is_terminal, step=worker.run_once)
    edit = text(operator_client.get(f"{saved.location}/edit"))
    assert "payload: exit 3" in edit  # the YAML view of the latest version
    fixed = DIAMOND.replace("exit 3", "true")
    assert (
        operator_client.post(
            f"{saved.location}/edit", data={"definition": fixed, "action": "save"}
        ).status_code
        == 303
    )
    c = {m.name: m.task_id for m in orchestration.graph_get("demo", graph_id).members}["c"]
    html = text(operator_client.get(f"/projects/demo/graphs/{graph_id}"))
    assert f'<option value="{c}" selected>c</option>' in html  # the failed one is preselected
    rerun = operator_client.post(f"/projects/demo/graphs/{graph_id}/rerun", data={"task": c})
    second = rerun.location.rsplit("/", 1)[1]
    wait_for(lambda: orchestration.graph_get("demo", second).is_terminal, step=worker.run_once)
    assert orchestration.graph_get("demo", second).status == "completed"
    runs = text(operator_client.get(saved.location))
    found = re.findall(r'data-graph="([^"]+)" data-status="(\w+)"', runs)
    assert found == [(second, "completed"), (graph_id, "failed")]
    assert workflow.workflow_id in runs
    timeline = text(operator_client.get(f"/projects/demo/graphs/{second}/timeline"))
    assert timeline.count('<g class="bar') == 5 and "critical" in timeline


def test_run_again_and_delete_a_run(operator_client, admin_client, project, worker, wait_for):
    created = operator_client.post("/projects/demo/graphs/new",
                                   data={"definition": "- {key: a, payload: 'true'}"})  # fmt: skip
    first = created.location.rsplit("/", 1)[1]
    wait_for(lambda: orchestration.graph_get("demo", first).is_terminal, step=worker.run_once)
    again = operator_client.post(f"/projects/demo/graphs/{first}/again")
    second = again.location.rsplit("/", 1)[1]
    assert second != first and orchestration.graph_get("demo", second).status == "queued"
    assert operator_client.post(f"/projects/demo/graphs/{first}/delete").status_code == 403
    deleted = admin_client.post(f"/projects/demo/graphs/{first}/delete")
    assert deleted.status_code == 303
    assert [g.graph_id for g in orchestration.graph_list("demo")] == [second]
    archived = text(operator_client.get("/projects/demo/archive"))
    assert ">a<" in archived or "a</" in archived
