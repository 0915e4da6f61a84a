"""Prompt tasks against a real OpenAI-compatible server on 127.0.0.1: streaming, usage,
the non-streaming fallback, provider errors a person understands, timeouts and budgets."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time

import pytest

from webapp.engine import RetryPolicy, Task, TaskExecutor, TaskType
from webapp.engine.handlers import make_http_prompt_handler
from webapp.engine.handlers.chat import Budget, BudgetExceeded, ProviderError


def run_prompt(handler, payload="say hi", *, timeout=None, retry_policy=None):
    executor = TaskExecutor.empty()
    executor.register(TaskType.PROMPT, handler)
    task = Task.prompt(payload, timeout=timeout)
    with contextlib.suppress(Exception):  # the outcome is on the task
        executor.execute(task, retry_policy=retry_policy)
    return task


def test_tokens_arrive_while_the_answer_is_still_streaming(llm_server):
    llm_server.tokens = ["Hel", "lo", " there"]
    llm_server.hold.clear()  # the server pauses after the first chunk until we release it
    seen: list[str] = []
    first = threading.Event()

    def on_token(_context, text):
        seen.append(text)
        first.set()

    usages = []
    handler = make_http_prompt_handler(llm_server.url, model="tiny", on_token=on_token,
                                       on_usage=lambda _c, u: usages.append(u))  # fmt: skip
    executor = TaskExecutor.empty()
    executor.register(TaskType.PROMPT, handler)
    output: list[str] = []
    executor.activity.subscribe(lambda e: output.append(e.output_chunk))
    task = Task.prompt("hi")
    future = executor.submit(task)
    assert first.wait(20), "no token arrived while the server held the rest of the answer"
    assert seen == ["Hel"] and not future.done()  # the response has not ended
    llm_server.hold.set()
    assert future.result(20).output == "Hello there"
    executor.shutdown()
    assert output == ["Hel", "lo", " there"]  # OUTPUT events, on the activity bus
    request = llm_server.requests[0]
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    [usage] = usages
    assert (usage.model, usage.prompt_tokens, usage.completion_tokens) == ("tiny", 7, 4)
    assert usage.streamed and 0 <= usage.first_token_s <= usage.latency_s


def test_an_endpoint_that_refuses_streaming_is_asked_again_whole(llm_server):
    llm_server.refuse_stream = True
    usages = []
    handler = make_http_prompt_handler(llm_server.url, model="tiny",
                                       on_usage=lambda _c, u: usages.append(u))  # fmt: skip
    task = run_prompt(handler, "whole please")
    assert task.is_done and task.result.output == "echo: whole please"
    assert [r.get("stream") for r in llm_server.requests] == [True, None]
    assert not usages[0].streamed and usages[0].completion_tokens == 4


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, {"error": {"message": "bad key"}}, r"refused the request \(HTTP 401\): bad key — "
         r"check the API key"),
        (404, {"error": {"message": "no such model"}}, r"does not know model 'tiny' \(HTTP 404\)"),
        (503, {"error": "overloaded"}, r"failed on its side \(HTTP 503\): overloaded — try again"),
        (429, {"error": {"message": "slow down"}}, r"rate-limiting requests \(HTTP 429\): slow "
         r"down; it asks to retry after 7 s"),
    ],
)  # fmt: skip
def test_provider_errors_say_what_to_do(llm_server, status, body, message):
    llm_server.replies.append((status, body, {"Retry-After": "7"} if status == 429 else {}))
    task = run_prompt(make_http_prompt_handler(llm_server.url, model="tiny"))
    assert task.is_failed
    assert re.search(message, task.error), task.error


def test_429_then_success_waits_as_long_as_the_server_asked(llm_server):
    llm_server.replies.append((429, {"error": "busy"}, {"Retry-After": "1"}))
    handler = make_http_prompt_handler(llm_server.url, model="tiny")
    started = time.monotonic()
    task = run_prompt(handler, "again", retry_policy=RetryPolicy(max_attempts=2))
    assert task.is_done and task.result.output == "echo: again"
    assert len(llm_server.requests) == 2
    assert time.monotonic() - started >= 1.0  # Retry-After beat the policy's 0 s back-off


def test_connection_refused_names_the_url():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    task = run_prompt(make_http_prompt_handler(f"http://127.0.0.1:{port}/v1", model="tiny"))
    assert task.is_failed
    assert f"cannot reach LLM endpoint http://127.0.0.1:{port}/v1/chat/completions" in task.error
    assert "connection refused" in task.error


def test_the_task_timeout_bounds_the_whole_streamed_call(llm_server):
    llm_server.hold.clear()  # first token, then silence
    task = run_prompt(make_http_prompt_handler(llm_server.url, model="tiny"), timeout=0.5)
    assert task.is_failed and task.result.termination_reason == "timeout"
    assert task.error.startswith("Task timed out after 0.5 seconds waiting for LLM endpoint")


def test_a_budget_stops_a_stream_midway(llm_server):
    llm_server.tokens = [f"t{n} " for n in range(50)]
    seen: list[str] = []
    usages = []
    handler = make_http_prompt_handler(
        llm_server.url, model="tiny", on_token=lambda _c, t: seen.append(t),
        on_usage=lambda _c, u: usages.append(u), budget=Budget("task budget", max_tokens=10),
    )  # fmt: skip
    task = run_prompt(handler, "count")
    assert task.is_failed
    assert task.error.startswith("stopped: the task budget of 10 tokens was exceeded")
    assert 0 < len(seen) < 50  # stopped part-way, not after the whole answer
    [usage] = usages  # what the stopped stream used is still reported
    assert usage.completion_tokens == len(seen)
    assert usage.prompt_tokens == 1  # estimated from the prompt until the provider reports it


def test_a_cost_budget_names_its_limit():
    budget = Budget("project budget", max_cost=0.001, prices={"prompt": 10.0, "completion": 30.0})
    budget.check(10, 10)  # $0.0004: within
    with pytest.raises(BudgetExceeded, match=r"the project budget of \$0.001 was exceeded"):
        budget.check(10, 40)


def test_provider_error_carries_retry_after():
    error = ProviderError("x", status=429, retry_after=3.0)
    assert (error.status, error.retry_after) == (429, 3.0)


def test_a_url_without_a_host_is_refused_up_front():
    with pytest.raises(ValueError, match="base_url must be an http.s. URL with a host"):
        make_http_prompt_handler("http:///v1", model="tiny")
