"""Prompt tasks in the worker against a real chat-completions server on 127.0.0.1: tokens in
the log while the answer streams, usage and cost recorded, budgets, honest last lines."""

from __future__ import annotations

from dataclasses import replace

import pytest

from webapp import orchestration as orch
from webapp.orchestration import errors, llm


@pytest.fixture
def provider(llm_server, monkeypatch):
    monkeypatch.setenv("WEBAPP_LLM_URL", llm_server.url)
    monkeypatch.setenv("WEBAPP_LLM_MODEL", "tiny")
    return llm_server


def test_tokens_reach_the_log_file_before_the_response_ends(project, provider, make_worker,
                                                            until, status):  # fmt: skip
    provider.tokens = ["first-token", " second", " third\n"]
    provider.hold.clear()  # the server pauses after the first chunk until the test saw it
    task = orch.task_new("demo", type="prompt", payload="stream please")
    make_worker(start=True)
    log_path = orch.task_log_path("demo", task.task_id)
    until(lambda: log_path.is_file() and "first-token" in log_path.read_text())
    assert "second" not in log_path.read_text()  # the server still holds the rest
    assert status(task) == "running"
    provider.hold.set()
    until(lambda: status(task) == "completed")
    until(lambda: "[webapp]" in orch.read_task_log("demo", task.task_id).text)  # last line
    log = orch.read_task_log("demo", task.task_id)
    assert log.text.startswith("first-token second third\n")
    last = log.segments[-1]
    assert last[0] == "system" and "exited" not in last[1]  # no process ran
    assert "[webapp] completed after" in last[1] and "7 prompt + 4 completion tokens" in last[1]


def test_usage_and_cost_are_recorded_per_run(settings, provider, make_worker, until, status):
    orch.project_create("demo")
    priced = replace(settings, llm_prices={"tiny": {"prompt": 1.0, "completion": 2.0}})
    with orch.bind(priced):
        task = orch.task_new("demo", type="prompt", payload="hi")
        make_worker(target=priced).run_once()
        until(lambda: status(task) == "completed")
        used = llm.run_usage(orch.get_task_meta("demo", task.task_id).run_id)
    priced.store.close()
    assert (used.model, used.prompt_tokens, used.completion_tokens) == ("tiny", 7, 4)
    assert used.cost == pytest.approx((7 * 1.0 + 4 * 2.0) / 1_000_000)
    assert used.first_token_s is not None and used.latency_s >= used.first_token_s
    # A project's own price table wins over the installation's.
    llm.set_limits("demo", prices={"tiny": {"prompt": 10.0, "completion": 0}})
    again = orch.task_new("demo", type="prompt", payload="hi")
    make_worker().run_once()
    until(lambda: status(again) == "completed")
    used = llm.run_usage(orch.get_task_meta("demo", again.task_id).run_id)
    assert used.cost == pytest.approx(70 / 1_000_000)
    assert llm.task_usage("demo", again.task_id)["completion_tokens"] == 4


def test_a_project_budget_stops_a_stream_midway(project, provider, make_worker, until, status):
    provider.tokens = [f"w{n} " for n in range(200)]
    llm.set_limits("demo", budget_tokens=20)
    task = orch.task_new("demo", type="prompt", payload="go on and on")
    make_worker().run_once()
    until(lambda: status(task) == "failed")
    meta = orch.get_task_meta("demo", task.task_id)
    assert meta.error.startswith("stopped: the project budget of 20 tokens was exceeded")
    until(lambda: "[webapp]" in orch.read_task_log("demo", task.task_id).text)  # last line
    text = orch.read_task_log("demo", task.task_id).text
    assert "w1 " in text and "w199" not in text  # stopped part-way
    assert "[webapp] failed after" in text and "exited" not in text
    # The budget is spent: the next run fails before it asks anything.
    asked = len(provider.requests)
    second = orch.task_new("demo", type="prompt", payload="more")
    make_worker().run_once()
    until(lambda: status(second) == "failed")
    assert "project budget of 20 tokens" in orch.get_task_meta("demo", second.task_id).error
    assert len(provider.requests) == asked


def test_a_task_cost_budget(project, provider, make_worker, until, status, settings):
    provider.tokens = [f"w{n} " for n in range(200)]
    prices = {"tiny": {"prompt": 0.0, "completion": 1000.0}}  # $0.001 per token
    task = orch.task_new("demo", type="prompt", payload="go")
    llm.set_limits("demo", task.task_id, budget_cost=0.01, prices=None)
    llm.set_limits("demo", prices=prices)
    make_worker().run_once()
    until(lambda: status(task) == "failed")
    error = orch.get_task_meta("demo", task.task_id).error
    assert error.startswith("stopped: the task budget of $0.01 was exceeded")


def test_limits_are_checked(project):
    with pytest.raises(errors.InvalidTaskRequest, match="budget_tokens must be a positive"):
        llm.set_limits("demo", budget_tokens=0)
    with pytest.raises(errors.InvalidTaskRequest, match="budget_cost must be a positive"):
        llm.set_limits("demo", budget_cost=-1)
    with pytest.raises(errors.InvalidTaskRequest, match=r"llm_prices\['m'\].prompt must be"):
        llm.set_limits("demo", prices={"m": {"prompt": "cheap"}})


def test_stop_ends_a_streaming_prompt_at_once(project, provider, make_worker, until, status):
    provider.tokens = ["partial", " never"]
    provider.hold.clear()  # the answer stalls after its first token
    task = orch.task_new("demo", type="prompt", payload="long answer")
    make_worker(start=True)
    until(lambda: "partial" in orch.read_task_log("demo", task.task_id).text)
    orch.task_stop("demo", task.task_id, actor="alice")
    until(lambda: status(task) == "cancelled")  # while the server still holds the stream
    assert not provider.hold.is_set()
    until(lambda: "[webapp] stopped after" in orch.read_task_log("demo", task.task_id).text)


def test_a_dated_model_name_in_the_answer_is_priced_by_the_name_asked(
    project, provider, make_worker, until, status
):
    llm.set_limits("demo", prices={"tiny": {"prompt": 1000.0, "completion": 0.0}})
    provider.replies.append((200, {
        "model": "tiny-2026-01-01", "choices": [{"message": {"content": "ok"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1},
    }, {}))  # fmt: skip
    task = orch.task_new("demo", type="prompt", payload="hi")
    make_worker().run_once()
    until(lambda: status(task) == "completed")
    used = llm.run_usage(orch.get_task_meta("demo", task.task_id).run_id)
    assert used.model == "tiny-2026-01-01" and used.cost == pytest.approx(0.005)
