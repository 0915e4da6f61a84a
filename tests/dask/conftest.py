"""A real Dask cluster on loopback: one ``dask scheduler`` and two ``dask worker`` processes
(one slot each, no nanny, dashboards on port 0, allowed-failures 0), shared by this folder's
tests and killed at teardown even when a test fails."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

DASK = str(Path(sys.executable).with_name("dask"))
START_TIMEOUT = 60.0


class Cluster:
    def __init__(self, root: Path, *, allowed_failures: int = 0, workers: int = 2):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(allowed_failures),
            "DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH": "200",
            # the dashboard's own environment, which must never reach a task
            "WEBAPP_SECRET_KEY": "server-secret-4f1c", "SERVER_ONLY_MARKER": "server-env-9b2e",
        }  # fmt: skip
        self.scheduler_file = root / "scheduler.json"
        self.start_scheduler()
        for n in range(1, workers + 1):
            self.start_worker(f"w{n}")
        if workers:
            self.wait_workers(workers)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        out = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - the process owns it
        self.procs[name] = subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()

    def start_scheduler(self) -> None:
        self.scheduler_file.unlink(missing_ok=True)
        self._spawn(
            "scheduler",
            [
                DASK,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--dashboard-address",
                "127.0.0.1:0",
                "--scheduler-file",
                str(self.scheduler_file),
            ],
            self.env,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                self.address = json.loads(self.scheduler_file.read_text())["address"]
                return
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)
        raise RuntimeError("the Dask scheduler did not start")

    def start_worker(self, name: str) -> None:
        remote = self.root / f"remote-{name}"
        env = {**self.env, "WEBAPP_REMOTE_ROOT": str(remote)}
        self._spawn(
            name,
            [
                DASK,
                "worker",
                "--scheduler-file",
                str(self.scheduler_file),
                "--name",
                name,
                "--nthreads",
                "1",
                "--no-nanny",
                "--host",
                "127.0.0.1",
                "--dashboard-address",
                "127.0.0.1:0",
                "--resources",
                "slots=1",
            ],
            env,
        )

    def wait_workers(self, count: int) -> None:
        from distributed import Client

        deadline = time.monotonic() + START_TIMEOUT
        with Client(self.address, timeout=START_TIMEOUT, set_as_default=False) as client:
            while len(client.scheduler_info(n_workers=-1)["workers"]) < count:
                if time.monotonic() > deadline:
                    raise RuntimeError("the Dask workers did not join")
                time.sleep(0.05)

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait()

    def close(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.wait()
        self.procs.clear()


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
