"""Dashboard fixtures: a worker the test steps, and a deadline helper instead of sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from webapp import orchestration
from webapp.worker import Worker


def wait_for(condition: Callable[[], object], *, timeout: float = 30.0, step: Callable = None):
    """Call ``step`` then check ``condition`` until it is truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        if step is not None:
            step()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)  # deadline loop: the task runs in a real subprocess


@pytest.fixture(name="wait_for")
def wait_for_fixture():
    """The deadline loop above, for tests."""
    return wait_for


@pytest.fixture
def worker(app, bound):
    """A worker on the app's data that the test steps with ``run_once`` (no thread)."""
    w = Worker(orchestration.settings_of(app), threads=2, name="test-worker")
    yield w
    w.stop(5.0)


@pytest.fixture
def run_to_end(worker):
    """``run_to_end(project, task_id)``: claim and run queued tasks until that one is over."""

    def run(project_id: str, task_id: str, timeout: float = 30.0):
        return wait_for(
            lambda: (t := orchestration.get_task_meta(project_id, task_id)).is_terminal and t,
            timeout=timeout,
            step=worker.run_once,
        )

    return run


@pytest.fixture
def project(bound):
    """A project ``demo`` without tasks."""
    return orchestration.project_create("demo", name="Demo project", actor="test")
