"""Fixtures of the worker tests: bound settings on a temporary folder, a project, workers
that are always stopped, and a deadline loop that steps them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from webapp import orchestration as orch
from webapp.worker import Worker


@pytest.fixture
def settings(tmp_path):
    bound = orch.Settings.for_data_dir(
        tmp_path / "data", worker_poll_interval=0.05, heartbeat_interval=0.2,
        worker_lost_after=5.0, log_cap_bytes=1024 * 1024,
    )  # fmt: skip
    with orch.bind(bound):
        yield bound
    bound.store.close()


@pytest.fixture
def project(settings):
    return orch.project_create("demo", actor="alice", shutdown_grace=1.0)


@pytest.fixture
def make_worker(settings):
    """Build workers that are stopped (their running tasks ended) when the test ends."""
    made: list[Worker] = []

    def make(threads: int = 2, *, start: bool = False, target=None) -> Worker:
        worker = Worker(target or settings, threads=threads)
        made.append(worker)
        return worker.start() if start else worker

    yield make
    for worker in made:
        worker.stop(timeout=15.0)


def wait_for(condition: Callable[[], object], timeout: float = 30.0, step=None) -> object:
    """Poll ``condition`` (calling ``step`` between polls) until truthy or the deadline."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        if step is not None:
            step()
        pause.wait(0.02)


@pytest.fixture
def until():
    return wait_for


@pytest.fixture
def status():
    """``status(task)``: the task's current UI status."""
    return lambda task: orch.get_task_meta(task.project_id, task.task_id).status
