"""Prompt tasks in the dashboard: a workflow whose bash output feeds a prompt through
``upstream``, usage on the task page, in the API, summed per workflow and in /metrics, and
the budget/price endpoints. The model is a real chat-completions server on 127.0.0.1."""

from __future__ import annotations

import subprocess

import pytest

from webapp import orchestration
from webapp.orchestration import llm

FEED = {
    "title": "release notes",
    "tasks": [
        {"key": "build", "payload": "echo version 1.2.3"},
        {
            "key": "notes",
            "type": "prompt",
            "payload": "Write notes for {{ upstream.build.output | trim }} "
            "(build {{ upstream.build.status }}{{ upstream.build.error }})",
            "after": ["build"],
        },
    ],
}


@pytest.fixture
def provider(llm_server, monkeypatch):
    monkeypatch.setenv("WEBAPP_LLM_URL", llm_server.url)
    monkeypatch.setenv("WEBAPP_LLM_MODEL", "tiny")
    return llm_server


def _run_graph(worker, wait_for, graph):
    return wait_for(
        lambda: (g := orchestration.graph_get("demo", graph.graph_id)).is_terminal and g,
        step=worker.run_once,
    )


def test_bash_output_feeds_a_prompt_through_upstream(project, provider, worker, wait_for,
                                                      admin_client, api_headers):  # fmt: skip
    llm.set_limits("demo", prices={"tiny": {"prompt": 1.0, "completion": 3.0}})
    graph = _run_graph(worker, wait_for, orchestration.graph_new("demo", FEED))
    assert graph.status == "completed", [(m.name, m.status, m.error) for m in graph.members]
    [asked] = provider.requests
    assert asked["messages"][0]["content"] == "Write notes for version 1.2.3 (build completed)"
    notes = next(m for m in graph.members if m.type == "prompt")
    notes = orchestration.get_task_meta("demo", notes.task_id)
    assert notes.result_output_tail == "echo: Write notes for version 1.2.3 (build completed)"

    # The task page shows the run's usage, the API has it, the workflow sums it.
    page = admin_client.get(f"/projects/demo/tasks/{notes.task_id}").get_data(as_text=True)
    assert 'data-usage="prompt">7<' in page and 'data-usage="completion">4<' in page
    assert "$0.000019" in page  # (7 * 1 + 4 * 3) / 1e6
    headers = api_headers("viewer")
    task = admin_client.get(f"/api/v1/projects/demo/tasks/{notes.task_id}", headers=headers).json
    assert task["usage"]["model"] == "tiny" and task["usage"]["prompt_tokens"] == 7
    assert task["usage"]["cost"] == pytest.approx(19e-6)
    built = admin_client.get(f"/api/v1/projects/demo/graphs/{graph.graph_id}", headers=headers)
    assert built.json["usage"]["runs"] == 1 and built.json["usage"]["completion_tokens"] == 4
    shown = admin_client.get(f"/projects/demo/graphs/{graph.graph_id}").get_data(as_text=True)
    assert 'data-usage="tokens">11<' in shown

    metrics = admin_client.get("/metrics").get_data(as_text=True)
    assert 'webapp_llm_tokens_total{project="demo",model="tiny",kind="completion"} 4' in metrics
    assert 'webapp_llm_cost_usd_total{project="demo",model="tiny"} 0.000019' in metrics
    assert 'webapp_llm_runs_total{project="demo",model="tiny"} 1' in metrics


def test_a_reference_to_a_task_that_is_not_upstream_is_refused(project, admin_client,
                                                                api_headers):  # fmt: skip
    bad = {"tasks": [
        {"key": "build", "payload": "true"},
        {"key": "lint", "payload": "true"},
        {"key": "notes", "type": "prompt", "payload": "{{ upstream.lint.output }}",
         "after": ["build"]},
    ]}  # fmt: skip
    response = admin_client.post("/api/v1/projects/demo/graphs", json=bad,
                                 headers=api_headers("operator"))  # fmt: skip
    assert response.status_code == 400
    assert "{{ upstream.lint }} is not a direct upstream task" in response.json["detail"]
    broken = {"tasks": [{"key": "a", "payload": "true"},
                        {"key": "b", "type": "agent", "payload": "{{ upstream.a.output",
                         "after": ["a"]}]}  # fmt: skip
    response = admin_client.post("/api/v1/projects/demo/graphs", json=broken,
                                 headers=api_headers("operator"))  # fmt: skip
    assert response.status_code == 400 and "not a valid template" in response.json["detail"]


def test_the_sandbox_refuses_attribute_tricks(project, provider, worker, wait_for):
    sneaky = {"tasks": [
        {"key": "a", "payload": "echo hi"},
        {"key": "b", "type": "prompt", "after": ["a"],
         "payload": "{{ upstream.a.output.__class__.__mro__ }}"},
    ]}  # fmt: skip
    graph = _run_graph(worker, wait_for, orchestration.graph_new("demo", sneaky))
    member = next(m for m in graph.members if m.type == "prompt")
    assert member.status == "failed" and "cannot fill in the upstream context" in member.error
    assert provider.requests == []


def test_budget_and_price_endpoints(project, admin_client, api_headers):
    url = "/api/v1/projects/demo/llm-limits"
    admin = api_headers("admin")
    empty = admin_client.get(url, headers=admin).json
    assert empty["budget_tokens"] is None and empty["usage"]["runs"] == 0
    changed = admin_client.patch(url, headers=admin, json={
        "budget_tokens": 5000, "prices": {"tiny": {"prompt": 0.5, "completion": 1.5}},
    })  # fmt: skip
    assert changed.status_code == 200, changed.json
    assert changed.json["budget_tokens"] == 5000
    assert changed.json["prices"] == {"tiny": {"prompt": 0.5, "completion": 1.5}}
    bad = admin_client.patch(url, headers=admin, json={"budget_cost": 0})
    assert bad.status_code == 400 and "budget_cost" in bad.json["detail"]
    task = orchestration.task_new("demo", type="prompt", payload="hi")
    task_url = f"/api/v1/projects/demo/tasks/{task.task_id}/llm-limits"
    set_task = admin_client.patch(task_url, headers=api_headers("operator"),
                                  json={"budget_cost": 0.25})  # fmt: skip
    assert set_task.status_code == 200 and set_task.json["budget_cost"] == 0.25
    viewer = admin_client.patch(task_url, headers=api_headers("viewer"), json={})
    assert viewer.status_code == 403


def test_the_list_shows_sortable_usage_columns_only_with_prompt_tasks(
    project, provider, worker, wait_for, admin_client
):
    orchestration.task_new("demo", payload="true")
    page = admin_client.get("/projects/demo").get_data(as_text=True)
    assert 'data-sort="tokens"' not in page  # no prompt task: no usage columns
    llm.set_limits("demo", prices={"tiny": {"prompt": 0.0, "completion": 1000.0}})
    ids = []
    for tokens in (["a"], ["a", "b", "c"], ["a", "b"]):
        provider.tokens, provider.usage = tokens, None  # usage counted from the stream
        task = orchestration.task_new("demo", type="prompt", payload="x")
        wait_for(lambda t=task: orchestration.get_task_meta("demo", t.task_id).is_terminal,
                 step=worker.run_once)  # fmt: skip
        ids.append(task.task_id)
    page = admin_client.get("/projects/demo").get_data(as_text=True)
    assert 'data-sort="tokens"' in page and 'data-sort="cost"' in page
    most = admin_client.get("/projects/demo?usage_sort=tokens").get_data(as_text=True)
    order = [most.index(f'id="task-{i}"') for i in (ids[1], ids[2], ids[0])]
    assert order == sorted(order)  # 4, 3, 2 tokens (1 estimated prompt token each)
    assert 'data-usage="cost">$0.0030<' in most
    least = admin_client.get("/projects/demo?usage_sort=-cost").get_data(as_text=True)
    order = [least.index(f'id="task-{i}"') for i in (ids[0], ids[2], ids[1])]
    assert order == sorted(order)
    assert "usage_sort=-cost" in most or "usage_sort=-tokens" in most  # the head toggles
    assert admin_client.get("/projects/demo?usage_sort=bogus").status_code == 400


def _git(cwd, *args) -> str:
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    done = subprocess.run(["git", *identity, *args], cwd=cwd, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout


@pytest.fixture
def repo(tmp_path):
    """A bare repository with one commit (app.py) for projects to clone."""
    bare, seed = tmp_path / "origin.git", tmp_path / "seed"
    _git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(bare))
    _git(tmp_path, "clone", "--quiet", str(bare), str(seed))
    _git(seed, "checkout", "--quiet", "-b", "main")
    (seed / "app.py").write_text("print('v1')\n")
    _git(seed, "add", "app.py")
    _git(seed, "commit", "--quiet", "-m", "first")
    _git(seed, "push", "--quiet", "origin", "main")
    return bare


def test_an_agent_edits_its_workspace_and_the_page_shows_the_diff(bound, repo, tmp_path, worker,
                                                                  wait_for, admin_client,
                                                                  monkeypatch):  # fmt: skip
    agent = tmp_path / "bin" / "test-agent"
    agent.parent.mkdir()
    agent.write_text(
        "#!/bin/sh\n"
        'echo "agent working in $(pwd) on: $1"\n'
        'sed -i "s/v1/v2/" app.py\n'
        "echo '<script>x</script>' >> app.py\n"
    )
    agent.chmod(0o755)
    monkeypatch.setenv("WEBAPP_AGENT_COMMAND", f"{agent} {{payload}}")
    orchestration.project_create("repo", git_repo=str(repo))
    task = orchestration.task_new("repo", type="agent", payload="bump the version")
    done = wait_for(lambda: (t := orchestration.get_task_meta("repo", task.task_id)).is_terminal
                    and t, step=worker.run_once)  # fmt: skip
    assert done.status == "completed", done.error
    workspace = orchestration.settings_of(admin_client.application).tasks_root
    log = orchestration.read_task_log("repo", task.task_id).text
    assert f"agent working in {workspace / 'repo' / task.task_id / 'workspace'}" in log
    assert "on: bump the version" in log
    page = admin_client.get(f"/projects/repo/tasks/{task.task_id}").get_data(as_text=True)
    assert '<span class="diff-del">-print(&#39;v1&#39;)</span>' in page
    assert '<span class="diff-add">+print(&#39;v2&#39;)</span>' in page
    assert '<span class="diff-add">+&lt;script&gt;x&lt;/script&gt;</span>' in page  # escaped
    patch = admin_client.get(f"/projects/repo/tasks/{task.task_id}/diff")
    assert patch.status_code == 200 and patch.mimetype == "text/x-diff"
    assert "attachment" in patch.headers["Content-Disposition"]
    assert "+print('v2')" in patch.get_data(as_text=True)


def test_an_agent_preset_whose_program_is_missing_fails_at_once(
    project, worker, wait_for, monkeypatch, admin_client
):
    monkeypatch.setenv("WEBAPP_AGENT_COMMAND", "claude")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no claude here
    task = orchestration.task_new("demo", type="agent", payload="do it")
    done = wait_for(lambda: (t := orchestration.get_task_meta("demo", task.task_id)).is_terminal
                    and t, step=worker.run_once)  # fmt: skip
    assert done.status == "failed"
    assert "AGENT tasks need `claude` on PATH" in done.error
    log = wait_for(
        lambda: "[webapp]" in (t := orchestration.read_task_log("demo", task.task_id).text) and t
    )  # the last line follows the status
    assert "exited" not in log and "[webapp] failed after" in log
    page = admin_client.get(f"/projects/demo/tasks/{task.task_id}").get_data(as_text=True)
    assert "Changes in the workspace" not in page  # not a git workspace: no diff section


def test_the_models_tab_shows_usage_and_lets_admins_set_budget_and_prices(
    project, admin_client, operator_client
):
    page = admin_client.get("/projects/demo/models")
    assert page.status_code == 200 and 'data-usage="runs">0<' in page.get_data(as_text=True)
    saved = admin_client.post("/projects/demo/models", data={
        "budget_tokens": "1000", "budget_cost": "2.5",
        "prices": '{"tiny": {"prompt": 1, "completion": 2}}',
    })  # fmt: skip
    assert saved.status_code == 303
    assert llm.get_limits("demo") == {
        "budget_tokens": 1000, "budget_cost": 2.5,
        "prices": {"tiny": {"prompt": 1.0, "completion": 2.0}},
    }  # fmt: skip
    shown = admin_client.get("/projects/demo/models").get_data(as_text=True)
    assert "1000 tokens and $2.5" in shown
    bad = admin_client.post("/projects/demo/models", data={"prices": "{nope"})
    assert bad.status_code == 422 and "Not JSON" in bad.get_data(as_text=True)
    wrong = admin_client.post("/projects/demo/models", data={"prices": '{"m": {"x": 1}}'})
    assert wrong.status_code == 422 and "llm_prices[&#39;m&#39;]" in wrong.get_data(as_text=True)
    assert operator_client.post("/projects/demo/models", data={}).status_code == 403
    assert llm.get_limits("demo")["budget_tokens"] == 1000  # the refused posts changed nothing


def test_a_prompt_task_page_sets_its_own_budget(project, admin_client, operator_client,
                                               viewer_client):  # fmt: skip
    task = orchestration.task_new("demo", type="prompt", payload="hi")
    page = operator_client.get(f"/projects/demo/tasks/{task.task_id}").get_data(as_text=True)
    assert "Set budget" in page and "budget: none" in page
    url = f"/projects/demo/models/tasks/{task.task_id}"
    assert operator_client.post(url, data={"budget_tokens": "300"}).status_code == 303
    assert llm.get_limits("demo", task.task_id)["budget_tokens"] == 300
    page = viewer_client.get(f"/projects/demo/tasks/{task.task_id}").get_data(as_text=True)
    assert "budget: 300 tokens" in page and "Set budget" not in page
    assert viewer_client.post(url, data={"budget_tokens": "1"}).status_code == 403
    bad = operator_client.post(url, data={"budget_tokens": "0"})
    assert bad.status_code == 400 and "Token budget" in bad.get_data(as_text=True)
    shell = orchestration.task_new("demo", payload="true")
    page = admin_client.get(f"/projects/demo/tasks/{shell.task_id}").get_data(as_text=True)
    assert "Set budget" not in page  # shell tasks use no model
