"""Copilot PROMPT/AGENT handlers against a stand-in SDK package (the real one needs a login).

The stand-in is a real package written to disk and imported from ``sys.path``; it implements
only the client surface the handlers use (and the assistant-message event type) and records
every call.
"""

from __future__ import annotations

import importlib
import sys
import types
from types import SimpleNamespace

import pytest

from webapp.engine import Task, TaskExecutor, TaskStatus, TaskType, make_copilot_prompt_handler
from webapp.engine.handlers.copilot import copilot_available

STANDIN = """
calls = []
reply = None  # what send_and_wait answers; an exception instance is raised instead


class PermissionHandler:
    @staticmethod
    def approve_all(request, invocation=None):
        return {"kind": "approved"}


class _Session:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        calls.append(("session closed",))

    async def send_and_wait(self, prompt, *, timeout=None):
        calls.append(("send", prompt, timeout))
        if isinstance(reply, BaseException):
            raise reply
        return reply


class CopilotClient:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        calls.append(("client closed",))

    async def create_session(self, **options):
        calls.append(("session", options))
        return _Session()
"""


EVENTS = """
class AssistantMessageData:
    def __init__(self, content):
        self.content = content
"""
MODULES = ("copilot", "copilot.generated", "copilot.generated.session_events")


def _message(text):
    """What send_and_wait answers: an event whose data is an assistant message."""
    events = importlib.import_module("copilot.generated.session_events")
    return SimpleNamespace(data=events.AssistantMessageData(text))


@pytest.fixture
def sdk(tmp_path, monkeypatch):
    """The stand-in ``copilot`` package, importable; no other provider configured."""
    package = tmp_path / "standin" / "copilot"
    (package / "generated").mkdir(parents=True)
    (package / "__init__.py").write_text(STANDIN)
    (package / "generated" / "__init__.py").write_text("")
    (package / "generated" / "session_events.py").write_text(EVENTS)
    for name in ("WEBAPP_LLM_URL", "WEBAPP_AGENT_COMMAND"):
        monkeypatch.delenv(name, raising=False)
    for name in MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "standin"))
    module = importlib.import_module("copilot")
    yield module
    for name in MODULES:
        sys.modules.pop(name, None)


def _sent(sdk):
    return [call for call in sdk.calls if call[0] == "send"]


def _options(sdk):
    [options] = [call[1] for call in sdk.calls if call[0] == "session"]
    return options


def test_default_prompt_handler_asks_copilot_without_tools(sdk):
    sdk.reply = _message("hello back")
    task = Task.prompt("hello")
    result = TaskExecutor().execute(task)
    assert result.output == "hello back" and task.status is TaskStatus.DONE
    assert _sent(sdk) == [("send", "hello", 60.0)]
    options = _options(sdk)
    assert options["model"] == "gpt-5.4-mini" and options["available_tools"] == []
    assert options["on_permission_request"]({}) == {"kind": "approved"}
    assert ("session closed",) in sdk.calls and ("client closed",) in sdk.calls


def test_task_timeout_overrides_the_prompt_default(sdk):
    sdk.reply = _message("ok")
    TaskExecutor().execute(Task.prompt("hello", timeout=2.5))
    executor = TaskExecutor.empty()
    executor.register(TaskType.PROMPT, make_copilot_prompt_handler(model="custom", timeout=12))
    executor.execute(Task.prompt("again"))
    assert [call[2] for call in _sent(sdk)] == [2.5, 12.0]


def test_default_agent_handler_keeps_tools_and_has_no_default_timeout(sdk):
    sdk.reply = _message("agent done")
    assert TaskExecutor().execute(Task.agent("inspect repo")).output == "agent done"
    TaskExecutor().execute(Task.agent("again", timeout=3.5))
    assert [call[2] for call in _sent(sdk)] == [None, 3.5]
    options = [call[1] for call in sdk.calls if call[0] == "session"]
    assert all(o["model"] == "gpt-5.5" and "available_tools" not in o for o in options)


@pytest.mark.parametrize("kind", ["nothing", "other event", "other event with text", "no text"])
def test_an_answer_without_message_text_is_empty_output(sdk, kind):
    sdk.reply = {
        "nothing": None,
        "other event": SimpleNamespace(data=object()),
        "other event with text": SimpleNamespace(data=SimpleNamespace(content="not a message")),
        "no text": _message(None),
    }[kind]
    task = Task.prompt("hello")
    assert TaskExecutor().execute(task).output == ""
    assert task.status is TaskStatus.DONE


def test_an_sdk_error_fails_the_task_with_its_text(sdk):
    sdk.reply = RuntimeError("sdk boom")
    task = Task.agent("hello")
    with pytest.raises(RuntimeError, match="sdk boom"):
        TaskExecutor().execute(task)
    assert task.status is TaskStatus.FAILED and task.error == "sdk boom"
    assert task.result.termination_reason == "handler"


def test_an_imported_sdk_module_without_a_spec_counts_as_installed(monkeypatch):
    # Modules made with types.ModuleType (stand-ins, some import hooks) have __spec__ None,
    # which makes importlib.util.find_spec raise ValueError instead of answering.
    for name in ("WEBAPP_LLM_URL", "WEBAPP_AGENT_COMMAND"):
        monkeypatch.delenv(name, raising=False)
    module = types.ModuleType("copilot")
    exec(STANDIN, module.__dict__)  # noqa: S102 - our own stand-in source, above
    module.reply = SimpleNamespace(data=SimpleNamespace(content="from memory"))  # duck-typed
    monkeypatch.setitem(sys.modules, "copilot", module)
    assert copilot_available()
    assert TaskExecutor().execute(Task.prompt("hi")).output == "from memory"


def test_prompt_tasks_run_when_the_caller_already_runs_an_event_loop(sdk):
    # asyncio.run refuses to nest; the handler then talks to Copilot from a private thread.
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    sdk.reply = _message("from inside a loop")

    async def caller() -> str:
        return TaskExecutor().execute(Task.prompt("hi")).output

    # A thread of its own, whatever loop this test process already runs (Playwright's).
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(lambda: asyncio.run(caller())).result() == "from inside a loop"
