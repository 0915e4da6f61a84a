"""Retries, cancellation and submission: behaviours 31-34 and 39-45."""

from __future__ import annotations

import threading
import time

import pytest

from webapp.engine import (
    RetryPolicy,
    Task,
    TaskCancelled,
    TaskEventType,
    TaskExecutionError,
    TaskExecutor,
    TaskStatus,
    TaskType,
)

E = TaskEventType


def failing(times: int, exc: type[Exception] = RuntimeError):
    """A handler that raises ``times`` times, then returns "ok"; ``calls`` counts attempts."""
    calls = []

    def handler(ctx):
        calls.append(ctx.status)
        if len(calls) <= times:
            raise exc(f"attempt {len(calls)}")
        return "ok"

    handler.calls = calls
    return handler


def test_retry_policy_validation():  # behaviour 31
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.backoff) == (1, 0.0)
    assert isinstance(RetryPolicy(backoff=1).backoff, float)
    with pytest.raises(TypeError, match="max_attempts must be an int"):
        RetryPolicy(max_attempts=True)
    with pytest.raises(ValueError, match="max_attempts must be at least 1"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(TypeError, match="backoff must be a number"):
        RetryPolicy(backoff="soon")
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite non-negative"):
            RetryPolicy(backoff=bad)


def test_retry_until_success(executor_with, recorder):  # behaviour 32
    task = Task.bash("")
    result = executor_with(failing(1)).execute(task, retry_policy=RetryPolicy(max_attempts=2))
    assert recorder.types() == [E.STARTED, E.FAILED, E.STARTED, E.SUCCEEDED]
    assert recorder.of(E.STARTED)[1].previous_status is TaskStatus.FAILED
    assert result.status is TaskStatus.DONE and task.is_done


def test_retries_run_out(executor_with, recorder):  # behaviour 33
    handler = failing(5, TaskExecutionError)
    with pytest.raises(TaskExecutionError, match="attempt 3"):
        executor_with(handler).execute(Task.bash(""), retry_policy=RetryPolicy(max_attempts=3))
    assert len(recorder.of(E.FAILED)) == 3 and len(handler.calls) == 3


def test_cancelled_is_never_retried(executor_with):  # behaviour 33
    calls = []

    def handler(ctx):
        calls.append(1)
        raise TaskCancelled("stop")

    with pytest.raises(TaskCancelled):
        executor_with(handler).execute(Task.bash(""), retry_policy=RetryPolicy(max_attempts=3))
    assert calls == [1]


def test_backoff_waits_between_attempts(executor_with):  # behaviour 34
    handler = failing(1)
    start = time.monotonic()
    executor_with(handler).execute(Task.bash(""), retry_policy=RetryPolicy(2, backoff=0.25))
    assert time.monotonic() - start >= 0.25 and len(handler.calls) == 2  # it waited, once


def test_cancel_during_backoff_skips_the_next_attempt(executor_with, recorder, wait_until):  # 34
    handler = failing(5)
    ex = executor_with(handler)
    task = Task.bash("")
    caught: list[BaseException] = []

    def run() -> None:
        try:
            ex.execute(task, retry_policy=RetryPolicy(max_attempts=3, backoff=30.0))
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    wait_until(lambda: recorder.of(E.FAILED))
    start = time.monotonic()
    ex.cancel(task)
    thread.join(timeout=15)
    assert time.monotonic() - start < 10  # the cancel cut the 30 s backoff short
    assert isinstance(caught[0], TaskCancelled) and len(handler.calls) == 1


def test_cancel_pending_task(executor_with, recorder):  # behaviour 39
    from webapp.store import InMemoryStore, InMemoryTaskCollection

    class Counting(InMemoryTaskCollection):
        saves = 0

        def save(self, task):
            Counting.saves += 1
            super().save(task)

    store = InMemoryStore()
    store._tasks = Counting()
    ex = executor_with(lambda ctx: "ok", store=store)
    task = Task.bash("")
    ex.cancel(task)
    [event] = recorder.events
    assert (event.type, event.previous_status, event.error) == (
        E.CANCELLED,
        TaskStatus.PENDING,
        "cancelled",
    )
    result = task.result
    assert (result.status, result.termination_reason, result.error, result.duration) == (
        TaskStatus.CANCELLED,
        "cancelled",
        "cancelled",
        0.0,
    )
    assert task.error is None and Counting.saves == 1


def test_cancel_done_second_cancel_and_failed(executor_with, recorder):  # behaviour 40
    ex = executor_with(lambda ctx: "ok")
    done = Task.bash("")
    ex.execute(done)
    result, count = done.result, len(recorder.events)
    ex.cancel(done)
    assert done.is_done and done.result is result and len(recorder.events) == count
    pending = Task.bash("")
    ex.cancel(pending)
    ex.cancel(pending)
    assert len(recorder.of(E.CANCELLED, pending)) == 1
    failed = Task.bash("")
    failed.transition_to(TaskStatus.FAILED, error="boom")
    ex.cancel(failed)
    [event] = recorder.of(E.CANCELLED, failed)
    assert event.previous_status is TaskStatus.FAILED and failed.error == "boom"


def test_submit_returns_a_future(executor_with, recorder):  # behaviour 42
    from webapp.store import InMemoryStore

    store = InMemoryStore()
    ex = executor_with(lambda ctx: "ok", store=store)
    task = Task.bash("")
    future = ex.submit(task)
    assert future.result(timeout=5) is task.result and task.is_done
    assert recorder.types() == [E.STARTED, E.SUCCEEDED] and store.tasks[task.id] is task


def test_submit_copies_upstream(executor_with):  # behaviour 43
    gate = threading.Event()
    seen = {}

    def handler(ctx):
        gate.wait(5)
        seen.update(ctx.upstream)

    ex = executor_with(handler)
    parent = Task.bash("")
    upstream = {parent.id: parent}
    future = ex.submit(Task.bash(""), upstream)
    upstream["late"] = parent
    gate.set()
    future.result(timeout=5)
    assert list(seen) == [parent.id]


def test_future_cancel_and_executor_cancel_of_queued_work(recorder):  # behaviour 44
    gate, started = threading.Event(), threading.Event()

    def handler(ctx):
        started.set()
        gate.wait(5)
        return "ok"

    ex = TaskExecutor.empty(max_workers=1)
    ex.register(TaskType.BASH, handler)
    ex.events.subscribe(recorder)
    running, queued, other = Task.bash(""), Task.bash(""), Task.bash("")
    running_future = ex.submit(running)
    started.wait(5)
    queued_future, other_future = ex.submit(queued), ex.submit(other)
    assert queued_future.cancel() and not running_future.cancel()
    assert queued.is_cancelled and queued.result.termination_reason == "cancelled"
    [event] = recorder.of(E.CANCELLED, queued)
    assert event.previous_status is TaskStatus.PENDING
    ex.cancel(other)
    gate.set()
    with pytest.raises(TaskCancelled):
        other_future.result(timeout=5)
    assert running_future.result(timeout=5).output == "ok"
    ex.shutdown()


def test_shutdown(executor_with, recorder):  # behaviour 45
    gate = threading.Event()
    ex = executor_with(lambda ctx: gate.wait(5) and "ok")
    futures = [ex.submit(Task.bash("")) for _ in range(3)]
    closer = threading.Thread(target=ex.shutdown)
    closer.start()
    gate.set()
    closer.join(timeout=5)
    assert all(f.done() and f.result().output == "ok" for f in futures)
    assert ex.is_shutdown
    ex.close()  # idempotent
    with pytest.raises(RuntimeError, match="executor is shut down"):
        ex.submit(Task.bash(""))
    assert ex.execute(Task.bash("")).output == "ok"  # synchronous work still runs
    with TaskExecutor.empty() as scoped:
        pass
    assert scoped.is_shutdown


def test_shutdown_from_inside_a_submitted_handler():  # behaviour 45
    ex = TaskExecutor.empty()
    ex.register(TaskType.BASH, lambda ctx: ex.shutdown() or "ok")
    assert ex.submit(Task.bash("")).result(timeout=5).output == "ok"
    assert ex.is_shutdown


def test_shutdown_from_a_handler_still_waits_for_the_other_running_work():  # behaviour 45
    other_started, release_other, other_finished = (threading.Event() for _ in range(3))
    ex = TaskExecutor.empty(max_workers=2)
    closing, other = Task.bash(""), Task.bash("")

    def handler(ctx):
        if ctx.id == other.id:
            other_started.set()
            release_other.wait(5)
            other_finished.set()
            return "other"
        threading.Timer(0.1, release_other.set).start()
        ex.shutdown()  # from a pool thread: must not return while `other` still runs
        return "waited" if other_finished.is_set() else "returned early"

    ex.register(TaskType.BASH, handler)
    other_future = ex.submit(other)
    assert other_started.wait(5)
    assert ex.submit(closing).result(timeout=5).output == "waited"
    assert other_future.result(timeout=5).output == "other"


def test_a_cancelled_task_run_with_a_retry_policy_reports_the_cancel(executor_with, recorder):
    calls = []
    ex = executor_with(calls.append)
    task = Task.bash("")
    task.cancel()
    with pytest.raises(ValueError, match="Cannot execute task with status 'cancelled'") as caught:
        ex.execute(task)
    assert type(caught.value) is ValueError
    with pytest.raises(TaskCancelled, match=f"Task {task.id!r} was cancelled"):
        ex.execute(task, retry_policy=RetryPolicy(max_attempts=2))
    done = Task.bash("")
    ex.execute(done)
    with pytest.raises(ValueError, match="status 'done'"):
        ex.execute(done, retry_policy=RetryPolicy(max_attempts=2))
    assert len(calls) == 1 and recorder.types(task) == []


def test_shutdown_waits_for_queued_submissions_too(wait_until):  # behaviour 45
    gate = threading.Event()
    ex = TaskExecutor.empty(max_workers=1)
    ex.register(TaskType.BASH, lambda ctx: gate.wait(5) and ctx.payload)
    futures = [ex.submit(Task.bash(str(n))) for n in range(3)]  # one runs, two wait in line

    def release_once_shutting_down() -> None:
        wait_until(lambda: ex.is_shutdown)
        gate.set()

    releaser = threading.Thread(target=release_once_shutting_down)
    releaser.start()
    ex.shutdown()  # called while all three are unfinished
    releaser.join(timeout=5)
    assert [f.done() and f.result().output for f in futures] == ["0", "1", "2"]
