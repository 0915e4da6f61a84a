"""Fixtures of the Dask tests: a real cluster on loopback (see ``cluster.py``) shared by this
folder's tests and killed at teardown even when a test fails; workers sending runs to it."""

from __future__ import annotations

import os
import shutil
import sys
import time

import pytest

pytest.importorskip("distributed")
sys.path.insert(0, os.path.dirname(__file__))
from cluster import Cluster  # noqa: E402


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask")
    cluster = Cluster(root)
    try:
        yield cluster
    finally:
        cluster.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def make_cluster(tmp_path):
    """Extra clusters for one test (killed at its end)."""
    made: list[Cluster] = []

    def make(name: str = "extra", **options) -> Cluster:
        made.append(Cluster(tmp_path / name, **options))
        return made[-1]

    yield make
    for cluster in made:
        cluster.close()


@pytest.fixture
def settings(tmp_path):
    from webapp import orchestration as orch

    bound = orch.Settings.for_data_dir(
        tmp_path / "data", worker_poll_interval=0.05, heartbeat_interval=0.2,
        worker_lost_after=5.0, log_cap_bytes=1024 * 1024,
    )  # fmt: skip
    with orch.bind(bound):
        yield bound
    bound.store.close()


@pytest.fixture
def make_worker(settings):
    """Workers (sending shell runs to ``cluster`` when given) stopped when the test ends."""
    from webapp.worker import Worker
    from webapp.worker.backends.dask import DaskBackend

    made = []

    def make(cluster=None, *, threads: int = 2, start: bool = True, target=None):
        backend = DaskBackend(cluster.address) if cluster is not None else None
        worker = Worker(target or settings, threads=threads, cluster=backend)
        made.append(worker)
        return worker.start() if start else worker

    yield make
    for worker in made:
        worker.stop(timeout=15.0)


def wait_for(condition, timeout: float = 30.0):
    """Poll ``condition`` until truthy or the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


@pytest.fixture
def until():
    return wait_for
