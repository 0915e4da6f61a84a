"""EventBus: behaviours 46-47 and bug 4 (interrupts from subscribers are not swallowed)."""

from __future__ import annotations

from datetime import datetime

import pytest

from webapp.engine import EventBus, Task, TaskEvent, TaskEventType, TaskStatus


def event(task: Task | None = None) -> TaskEvent:
    task = task or Task.bash("")
    return TaskEvent(TaskEventType.STARTED, task.id, task, datetime.now(), None, task.status)


def test_subscribe_unsubscribe_and_scoped_subscription():  # behaviour 46
    bus, seen = EventBus(), []
    with pytest.raises(TypeError, match="subscriber must be callable"):
        bus.subscribe("x")  # type: ignore[arg-type]
    unsubscribe = bus.subscribe(seen.append)
    bus.emit(event())
    unsubscribe()
    unsubscribe()  # idempotent
    bus.emit(event())
    assert len(seen) == 1
    with bus.subscribed(seen.append):
        bus.emit(event())
    with pytest.raises(ZeroDivisionError), bus.subscribed(seen.append):
        1 / 0  # noqa: B018
    bus.emit(event())
    assert len(seen) == 2 and not bus.has_subscribers


def test_same_callable_twice_gets_each_event_twice():  # reference section 3
    bus, seen = EventBus(), []
    bus.subscribe(seen.append)
    bus.subscribe(seen.append)
    bus.emit(event())
    assert len(seen) == 2


def test_failing_subscriber_is_isolated(executor_with):  # behaviour 47
    seen = []

    def broken(e):
        raise ValueError("observer bug")

    ex = executor_with(lambda ctx: "ok")
    ex.events.subscribe(broken)
    ex.events.subscribe(seen.append)
    task = Task.bash("")
    ex.execute(task)
    assert task.is_done and [e.type for e in seen][-1] is TaskEventType.SUCCEEDED
    errors = ex.events.errors
    assert len(errors) == 2 and all(isinstance(e, ValueError) for e in errors)
    errors.clear()
    assert len(ex.events.errors) == 2  # each access is a new list


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_interrupts_reach_the_caller_after_delivery(interrupt):  # bug 4
    bus, seen = EventBus(), []

    def stop(e):
        raise interrupt()

    bus.subscribe(stop)
    bus.subscribe(seen.append)
    with pytest.raises(interrupt):
        bus.emit(event())
    assert len(seen) == 1  # later subscribers still got the event
    assert isinstance(bus.errors[0], interrupt)


def test_event_fields_default_to_none():
    task = Task.bash("")
    e = event(task)
    assert (e.error, e.progress_percent, e.progress_message) == (None, None, None)
    assert (e.output_stream, e.output_chunk, e.status) == (None, None, TaskStatus.PENDING)
    assert [t.value for t in TaskEventType] == [
        "started",
        "progress",
        "output",
        "succeeded",
        "failed",
        "cancelled",
        "blocked",
        "persistence_failed",
    ]
    assert TaskEventType.DONE is TaskEventType.SUCCEEDED
