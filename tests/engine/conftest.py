"""Helpers for engine tests: event recording, in-process handlers, deadline polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from webapp.engine import TaskEvent, TaskEventType, TaskExecutor, TaskType


class Recorder:
    """Collects events (thread-safe) and answers questions about them."""

    def __init__(self) -> None:
        self.events: list[TaskEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: TaskEvent) -> None:
        with self._lock:
            self.events.append(event)

    def types(self, task=None, *, lifecycle: bool = False) -> list[TaskEventType]:
        quiet = {TaskEventType.OUTPUT, TaskEventType.PROGRESS}
        return [
            e.type
            for e in list(self.events)
            if (task is None or e.task_id == task.id) and not (lifecycle and e.type in quiet)
        ]

    def of(self, kind: TaskEventType, task=None) -> list[TaskEvent]:
        return [
            e
            for e in list(self.events)
            if e.type is kind and (task is None or e.task_id == task.id)
        ]


def _wait_until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    """Poll ``condition`` until it is truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.005)


@pytest.fixture
def wait_until():
    """``wait_until(condition, timeout=5.0)``: a deadline loop, never a fixed sleep."""
    return _wait_until


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def executor(recorder):
    """A default executor (real bash handler) whose events go to ``recorder``."""
    with TaskExecutor() as ex:
        ex.events.subscribe(recorder)
        ex.activity.subscribe(recorder)
        yield ex


@pytest.fixture
def executor_with(recorder):
    """``executor_with(handler, store=None)``: an empty executor with ``handler`` for BASH
    tasks, its events going to ``recorder``; shut down after the test."""
    made: list[TaskExecutor] = []

    def make(handler, store=None) -> TaskExecutor:
        ex = TaskExecutor.empty(store)
        ex.register(TaskType.BASH, handler)
        ex.events.subscribe(recorder)
        ex.activity.subscribe(recorder)
        made.append(ex)
        return ex

    yield make
    for ex in made:
        ex.shutdown()
