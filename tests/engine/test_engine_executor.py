"""Executor semantics with in-process handlers: behaviours 22-30, 35-38, 48, 50-51,
and bugs 3 (BaseException leaves RUNNING) and 5 (the cancel/fail race)."""

from __future__ import annotations

import subprocess

import pytest

from webapp.engine import (
    Task,
    TaskCancelled,
    TaskContext,
    TaskEventType,
    TaskExecutor,
    TaskStatus,
    TaskType,
)
from webapp.store import InMemoryStore, InMemoryTaskCollection

E = TaskEventType


def test_handler_return_values_are_normalised(executor_with):  # behaviour 22
    values = iter([
        "text",
        subprocess.CompletedProcess(["x"], 4, "out", "err"),
        None,
        {"a": 1},
    ])  # fmt: skip
    ex = executor_with(lambda ctx: next(values))
    assert ex.execute(Task.bash("")).output == "text"
    proc = ex.execute(Task.bash(""))
    assert (proc.status, proc.returncode, proc.output, proc.error) == (
        TaskStatus.DONE,
        4,
        "out",
        "err",
    )
    assert ex.execute(Task.bash("")).raw is None
    assert ex.execute(Task.bash("")).raw == {"a": 1}


def test_handler_exception_fails_the_task(executor_with):  # behaviour 23
    def boom(ctx):
        raise RuntimeError("boom")

    task = Task.bash("")
    with pytest.raises(RuntimeError, match="boom"):
        executor_with(boom).execute(task)
    result = task.result
    assert task.is_failed and task.error == result.error == "boom"
    assert result.termination_reason == "handler" and result.status is TaskStatus.FAILED
    assert result.started_at <= result.finished_at and result.duration >= 0


def test_handler_cancelling_itself(executor_with, recorder):  # behaviour 24
    def stop(ctx):
        raise TaskCancelled("stop")

    task = Task.bash("")
    with pytest.raises(TaskCancelled, match="stop"):
        executor_with(stop).execute(task)
    assert task.is_cancelled and task.error == "stop"
    assert (task.result.status, task.result.error) == (TaskStatus.CANCELLED, "stop")
    assert task.result.termination_reason == "cancelled"
    assert [e.error for e in recorder.of(E.CANCELLED)] == ["stop"]


@pytest.mark.parametrize("ending", ["return", "raise"])
def test_cancel_while_handler_runs(executor_with, recorder, ending):  # behaviour 25
    holder: dict[str, TaskExecutor] = {}

    def handler(ctx):
        holder["ex"].cancel(task)
        if ending == "raise":
            raise RuntimeError("after cancel")
        return "ignored"

    task = Task.bash("")
    holder["ex"] = ex = executor_with(handler)
    with pytest.raises(TaskCancelled, match=f"Task {task.id!r} was cancelled"):
        ex.execute(task)
    assert task.is_cancelled and task.result.status is TaskStatus.CANCELLED
    assert task.result.output == ""
    assert len(recorder.of(E.CANCELLED)) == 1


@pytest.mark.parametrize("status", [TaskStatus.DONE, TaskStatus.RUNNING, TaskStatus.CANCELLED])
def test_cannot_execute_sinks_or_running(executor_with, recorder, status):  # behaviour 26
    calls = []
    ex = executor_with(calls.append)
    task = Task.bash("")
    if status is not TaskStatus.CANCELLED:
        task.transition_to(TaskStatus.RUNNING)
    if status is not TaskStatus.RUNNING:
        task.transition_to(status)
    with pytest.raises(ValueError, match=f"Cannot execute task with status '{status.value}'"):
        ex.execute(task)
    assert calls == [] and recorder.events == []


@pytest.mark.parametrize("start", [TaskStatus.PENDING, TaskStatus.FAILED, TaskStatus.BLOCKED])
def test_missing_handler(recorder, start):  # behaviours 27 and 33 (never retried)
    from webapp.engine import RetryPolicy

    ex = TaskExecutor.empty(InMemoryStore())
    ex.events.subscribe(recorder)
    task = Task.bash("")
    if start is not TaskStatus.PENDING:
        task.transition_to(start)
    with pytest.raises(ValueError, match="No handler registered for task type 'bash'"):
        ex.execute(task, retry_policy=RetryPolicy(max_attempts=3))
    assert task.is_failed and task.result.termination_reason == "handler"
    assert [(e.type, e.previous_status) for e in recorder.events] == [(E.FAILED, start)]
    assert ex.store.tasks[task.id] is task


def test_argument_checks(executor):  # behaviours 28 and 29
    for call in (executor.execute, executor.submit):
        with pytest.raises(TypeError, match="task must be a Task"):
            call(object())
        with pytest.raises(TypeError, match="retry_policy must be a RetryPolicy"):
            call(Task.bash("echo"), retry_policy=3)
    with pytest.raises(TypeError, match="task_type must be a TaskType"):
        executor.register("bash", print)
    with pytest.raises(TypeError, match="handler must be callable"):
        executor.register(TaskType.BASH, "x")
    with pytest.raises(TypeError, match="task_type must be a TaskType"):
        executor.is_registered("bash")
    assert all(executor.is_registered(t) for t in TaskType)
    assert not any(TaskExecutor.empty().is_registered(t) for t in TaskType)


def test_failed_task_runs_again(executor_with, recorder):  # behaviours 9 and 30
    outcomes = iter([RuntimeError("first"), "second"])

    def handler(ctx):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    ex = executor_with(handler)
    task = Task.bash("broken")
    with pytest.raises(RuntimeError):
        ex.execute(task)
    first = task.result
    task.payload = "fixed"
    ex.execute(task)
    assert recorder.of(E.STARTED)[-1].previous_status is TaskStatus.FAILED
    assert task.error is None and task.result is not first and task.result.output == "second"


def test_context_exposes_the_task_read_only(executor_with):  # behaviour 35
    from dataclasses import FrozenInstanceError

    task = Task.bash("p", title="t", description="d", timeout=3)
    context = TaskContext(task)
    assert (context.id, context.title, context.description, context.payload) == (
        task.id,
        "t",
        "d",
        "p",
    )
    assert (context.type, context.timeout, context.upstream) == (TaskType.BASH, 3, {})
    with pytest.raises(TypeError):
        context.upstream["x"] = task  # type: ignore[index]
    with pytest.raises(FrozenInstanceError):
        context.payload = "x"  # type: ignore[misc]
    assert context.status is TaskStatus.PENDING and not context.cancelled
    context.raise_if_cancelled()
    task.cancel()
    assert context.status is TaskStatus.CANCELLED and context.cancelled
    with pytest.raises(TaskCancelled):
        context.raise_if_cancelled()


def test_progress_events(executor_with, recorder):  # behaviour 36
    def handler(ctx):
        ctx.emit_progress(25, "warming up")
        ctx.emit_progress(10)  # falling percentages are allowed
        ctx.emit_progress(message="only text")

    task = Task.bash("")
    executor_with(handler).execute(task)
    assert recorder.types() == [E.STARTED, E.PROGRESS, E.PROGRESS, E.PROGRESS, E.SUCCEEDED]
    first = recorder.of(E.PROGRESS)[0]
    assert (first.previous_status, first.status) == (None, TaskStatus.RUNNING)
    assert (first.progress_percent, first.progress_message) == (25.0, "warming up")
    assert isinstance(first.progress_percent, float)


def test_progress_validation():  # behaviour 37
    task = Task.bash("")
    context = TaskContext(task, progress_emitter=lambda percent, message: None)
    with pytest.raises(ValueError, match="percent or message is required"):
        context.emit_progress()
    for bad in (True, "50"):
        with pytest.raises(TypeError, match="percent must be a number"):
            context.emit_progress(bad)
    for bad in (-1, 101, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="percent must be between 0 and 100"):
            context.emit_progress(bad)
    with pytest.raises(TypeError, match="message must be a str"):
        context.emit_progress(5, 7)
    with pytest.raises(RuntimeError, match="without an executor"):
        TaskContext(task).emit_progress(5)
    task.cancel()
    with pytest.raises(TaskCancelled):
        context.emit_progress(5)


def test_upstream_is_passed_through(executor_with):  # behaviour 38
    parent = Task.bash("")
    seen = {}
    executor_with(lambda ctx: seen.update(ctx.upstream)).execute(
        Task.bash(""), upstream={parent.id: parent}
    )
    assert seen[parent.id] is parent


def test_terminal_events_carry_the_live_task_with_result(executor_with, recorder):  # 48
    results = []
    recorder_events = recorder.events

    def check(event):
        if event.type in (E.SUCCEEDED, E.FAILED, E.CANCELLED):
            results.append(event.task.result)

    ex = executor_with(lambda ctx: "ok")
    ex.events.subscribe(check)
    task = Task.bash("")
    ex.execute(task)
    assert all(e.task is task for e in recorder_events) and results == [task.result]


class RecordingTasks(InMemoryTaskCollection):
    """A real in-memory collection that also notes the status of every save."""

    def __init__(self) -> None:
        super().__init__()
        self.saved: list[TaskStatus] = []

    def save(self, task: Task) -> None:
        self.saved.append(task.status)
        super().save(task)


class RecordingStore(InMemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self._tasks = RecordingTasks()


def test_store_is_saved_once_per_transition(executor_with):  # behaviour 50
    store = RecordingStore()

    def handler(ctx):
        ctx.emit_progress(50)
        ctx.emit_output("stdout", "line\n")
        return "ok"

    executor_with(handler, store=store).execute(Task.bash(""))
    assert store.tasks.saved == [TaskStatus.RUNNING, TaskStatus.DONE]  # PROGRESS/OUTPUT: none


def test_subscribers_see_the_new_status_in_the_store(executor_with, tmp_path):  # behaviour 50
    from webapp.store import SQLiteStore

    path = tmp_path / "engine.db"
    seen: list[tuple[E, str]] = []
    ex = executor_with(lambda ctx: "ok", store=SQLiteStore(path))
    reader = SQLiteStore(path)
    ex.events.subscribe(lambda e: seen.append((e.type, reader.tasks[e.task_id].status.value)))
    ex.execute(Task.bash(""))
    assert seen == [(E.STARTED, "running"), (E.SUCCEEDED, "done")]


def test_persistence_failures_are_isolated(executor_with, recorder):  # behaviour 51
    failures: list[OSError] = []

    class BrokenTasks:
        def save(self, task):
            failures.append(OSError("nope"))
            raise failures[-1]

    class BrokenStore:
        tasks = BrokenTasks()
        graphs = None

    ex = executor_with(lambda ctx: "ok", store=BrokenStore())
    task = Task.bash("")
    ex.execute(task)
    assert task.is_done
    assert ex.persistence_errors == [(task.id, failures[0]), (task.id, failures[1])]
    assert recorder.types() == [E.PERSISTENCE_FAILED, E.STARTED, E.PERSISTENCE_FAILED, E.SUCCEEDED]
    assert recorder.of(E.PERSISTENCE_FAILED)[0].error == "nope"
    assert TaskExecutor().persistence_errors == []


# -- fixed upstream bugs -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("interrupt", "status"),
    [(KeyboardInterrupt, TaskStatus.CANCELLED), (SystemExit, TaskStatus.FAILED)],
)
def test_base_exception_never_leaves_a_task_running(executor_with, recorder, interrupt, status):
    def handler(ctx):  # bug 3
        raise interrupt()

    task = Task.bash("")
    with pytest.raises(interrupt):
        executor_with(handler).execute(task)
    assert task.status is status and task.result.status is status
    assert task.error == task.result.error == f"interrupted by {interrupt.__name__}"
    assert recorder.types()[-1] is E.CANCELLED if status is TaskStatus.CANCELLED else E.FAILED


def test_interrupt_in_a_started_subscriber_still_terminalizes(executor_with):  # bug 3
    ex = executor_with(lambda ctx: "never")

    def interrupt(event):
        if event.type is E.STARTED:
            raise KeyboardInterrupt

    ex.events.subscribe(interrupt)
    task = Task.bash("")
    with pytest.raises(KeyboardInterrupt):
        ex.execute(task)
    assert task.is_cancelled and task.result.termination_reason == "cancelled"


def test_cancel_landing_inside_the_failure_path_does_not_raise_valueerror(executor_with, recorder):
    """Bug 5: a cancel between the "cancelled?" check and the FAILED transition."""
    holder: dict[str, TaskExecutor] = {}

    class CancelsWhenPrinted(Exception):
        def __str__(self) -> str:
            holder["ex"].cancel(task)  # runs while execute builds the failure
            return "boom"

    def handler(ctx):
        raise CancelsWhenPrinted()

    task = Task.bash("")
    holder["ex"] = ex = executor_with(handler)
    with pytest.raises(TaskCancelled) as caught:
        ex.execute(task)
    assert isinstance(caught.value.__cause__, CancelsWhenPrinted)
    assert task.is_cancelled and task.result.status is TaskStatus.CANCELLED
    assert task.result.termination_reason == "cancelled"
    assert len(recorder.of(E.CANCELLED)) == 1 and recorder.of(E.FAILED) == []
