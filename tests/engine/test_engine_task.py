"""Task model and state machine: behaviours 1-14 of the reference (DONE for SUCCEEDED)."""

from __future__ import annotations

import itertools
import subprocess
import uuid
from dataclasses import FrozenInstanceError
from datetime import datetime

import pytest

from webapp.engine import Task, TaskResult, TaskStatus, TaskType

S = TaskStatus
ALLOWED = {
    S.PENDING: {S.RUNNING, S.CANCELLED, S.BLOCKED, S.FAILED},
    S.RUNNING: {S.DONE, S.FAILED, S.CANCELLED},
    S.FAILED: {S.RUNNING, S.CANCELLED},
    S.BLOCKED: {S.RUNNING, S.CANCELLED},
    S.DONE: set(),
    S.CANCELLED: set(),
}
PATHS = {  # a legal way to reach each status from PENDING
    S.PENDING: [],
    S.RUNNING: [S.RUNNING],
    S.DONE: [S.RUNNING, S.DONE],
    S.FAILED: [S.FAILED],
    S.CANCELLED: [S.CANCELLED],
    S.BLOCKED: [S.BLOCKED],
}


def task_in(status: TaskStatus, **kwargs) -> Task:
    task = Task.bash("echo hi", **kwargs)
    for step in PATHS[status]:
        task.transition_to(step)
    return task


def test_bash_factory_defaults():  # behaviour 1
    task, other = Task.bash("echo hi"), Task.bash("echo hi")
    assert (task.type, task.payload, task.title, task.description) == (
        TaskType.BASH,
        "echo hi",
        "",
        "",
    )
    assert task.timeout is None and task.error is None
    assert task.status is S.PENDING and task.result is None and task.blocked_by is None
    assert uuid.UUID(task.id).version == 4 and task.id != other.id


def test_other_factories_and_keyword_only_options():  # behaviour 2
    assert Task.powershell("p").type is TaskType.POWERSHELL
    assert Task.prompt("p").type is TaskType.PROMPT
    assert Task.agent("p").type is TaskType.AGENT
    task = Task.agent("p", title="t", description="d", timeout=2)
    assert (task.title, task.description, task.timeout) == ("t", "d", 2)
    with pytest.raises(TypeError):
        Task.bash("p", "title")  # type: ignore[misc]
    assert Task("t", "p", TaskType.BASH).title == "t"  # positional construction works


def test_constructor_validation():  # behaviour 3
    with pytest.raises(TypeError, match="type must be a TaskType"):
        Task(title="t", payload="p", type="bash")  # type: ignore[arg-type]
    for bad in (0, -1):
        with pytest.raises(ValueError, match="timeout must be greater than 0"):
            Task.bash("x", timeout=bad)
    assert Task.bash("x", timeout=1.5).timeout == 1.5


def test_allowed_transitions_are_exactly_the_table():  # behaviours 4 and 5
    for start, target in itertools.product(S, S):
        task = task_in(start, title="t")
        if start is not S.DONE:
            task.error = "before"
        error_before = task.error
        assert task.can_transition_to(target) is (target in ALLOWED[start])
        if target in ALLOWED[start]:
            task.transition_to(target)
            assert task.status is target
        else:
            message = f"Cannot transition task from '{start.value}' to '{target.value}'"
            with pytest.raises(ValueError, match=message):
                task.transition_to(target)
            assert task.status is start and task.error == error_before


def test_status_arguments_are_type_checked():  # behaviour 6
    task = Task.bash("x")
    with pytest.raises(TypeError, match="status must be a TaskStatus"):
        task.transition_to("running")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="status must be a TaskStatus"):
        task.can_transition_to("running")  # type: ignore[arg-type]


def test_transition_error_rules():  # behaviour 7
    task = task_in(S.RUNNING)
    task.transition_to(S.DONE, error="x")
    assert task.error is None
    failed = Task.bash("x")
    failed.transition_to(S.FAILED, error="boom")
    assert failed.error == "boom"
    failed.transition_to(S.CANCELLED)
    assert failed.error is None
    retried = Task.bash("x")
    retried.transition_to(S.BLOCKED, error="why")
    retried._set_blocked_by("parent")
    now = datetime.now()
    retried._set_result(TaskResult(retried.id, S.FAILED, now, now, 0.0))
    retried.transition_to(S.RUNNING)
    assert retried.error is None and retried.result is None and retried.blocked_by is None


def test_cancel_is_idempotent_and_keeps_error():  # behaviour 8
    task = Task.bash("x")
    task.cancel()
    task.cancel()
    assert task.status is S.CANCELLED
    done = task_in(S.DONE)
    done.cancel()
    assert done.status is S.DONE
    failed = Task.bash("x")
    failed.transition_to(S.FAILED, error="boom")
    failed.cancel()
    assert failed.status is S.CANCELLED and failed.error == "boom"


def test_done_tasks_are_immutable_failed_ones_are_not():  # behaviour 9
    done = task_in(S.DONE)
    for name, value in [
        ("title", "x"),
        ("description", "x"),
        ("payload", "x"),
        ("timeout", 3),
        ("error", "x"),
        ("brand_new", 1),
    ]:
        with pytest.raises(AttributeError, match="DONE tasks are immutable"):
            setattr(done, name, value)
    failed = task_in(S.FAILED)
    failed.payload = "echo fixed"
    assert failed.payload == "echo fixed"


def test_read_only_attributes():  # behaviour 10
    task = Task.bash("x")
    for name in ("status", "id", "result", "blocked_by"):
        with pytest.raises(AttributeError):
            setattr(task, name, None)
    with pytest.raises(AttributeError, match="Task._id is immutable"):
        task._id = "other"
    with pytest.raises(AttributeError, match="use _set_result"):
        task.result = None  # type: ignore[misc]


def test_identity_is_the_id():  # behaviour 11
    task = Task.bash("x", title="a")
    twin = Task("b", "y", TaskType.PROMPT, _id=task.id)
    twin.transition_to(S.FAILED)
    assert twin == task and hash(twin) == hash(task)
    assert task != Task.bash("x", title="a")
    assert task != task.id and (task == object()) is False


def test_repr():  # behaviour 12
    task = Task.bash("x", title="hello")
    assert repr(task) == f"Task(id={task.id!r}, title='hello', status=pending)"


def test_terminal_statuses_and_done_aliases():  # behaviour 13 (seed names: DONE, is_done)
    terminal = {S.DONE, S.FAILED, S.CANCELLED, S.BLOCKED}
    for status in S:
        assert task_in(status).is_terminal is (status in terminal)
        assert status.is_terminal is (status in terminal)
    assert TaskStatus.SUCCEEDED is TaskStatus.DONE and TaskStatus("done") is S.DONE
    assert S.DONE.value == "done" and len(list(TaskStatus)) == 6
    done = task_in(S.DONE)
    assert done.is_done and done.is_succeeded
    assert not task_in(S.FAILED).is_done
    flags = ("is_pending", "is_running", "is_failed", "is_cancelled", "is_blocked")
    for status, flag in zip(
        (S.PENDING, S.RUNNING, S.FAILED, S.CANCELLED, S.BLOCKED), flags, strict=True
    ):
        assert getattr(task_in(status), flag) and not getattr(done, flag)


def test_status_properties_and_values():  # behaviour 14
    assert {s for s in S if s.is_sink} == {S.DONE, S.CANCELLED}
    assert {s for s in S if s.is_bad} == {S.FAILED, S.CANCELLED, S.BLOCKED}
    assert {s for s in S if s.is_active} == {S.PENDING, S.RUNNING}
    assert [s.value for s in S] == ["pending", "running", "done", "failed", "cancelled", "blocked"]
    assert [t.value for t in TaskType] == ["bash", "powershell", "prompt", "agent"]


def test_result_from_raw_and_frozen():  # behaviour 22 (normalisation part)
    task, now = Task.bash("x"), datetime.now()
    times = dict(status=S.DONE, started_at=now, finished_at=now, duration=0.0)
    proc = subprocess.CompletedProcess(["x"], 3, "out", "err")
    result = TaskResult.from_raw(task, proc, **times)
    assert (result.output, result.error, result.returncode, result.raw) == ("out", "err", 3, proc)
    empty = TaskResult.from_raw(task, subprocess.CompletedProcess(["x"], 0, None, ""), **times)
    assert (empty.output, empty.error) == ("", None)
    text = TaskResult.from_raw(task, "hello", **times)
    assert (text.output, text.raw) == ("hello", "hello")
    for other in (None, b"bytes", {"a": 1}, 5):
        result = TaskResult.from_raw(task, other, **times)
        assert result.output == "" and result.raw == other
    with pytest.raises(FrozenInstanceError):
        result.output = "x"  # type: ignore[misc]
