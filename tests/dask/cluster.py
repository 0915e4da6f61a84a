"""A real Dask cluster on loopback for tests and benchmarks: one ``dask scheduler`` and
``dask worker`` processes (one slot each, no nanny, dashboards on port 0, allowed-failures 0
unless told), each in its own session so that ``close()`` kills everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DASK = str(Path(sys.executable).with_name("dask"))
START_TIMEOUT = 60.0


class Cluster:
    def __init__(self, root: Path, *, allowed_failures: int = 0, workers: int = 2,
                 nthreads: int = 1, port: int = 0):  # fmt: skip
        self.root = root
        self.port = port
        self.nthreads = nthreads
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
                str(self.port),
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
                str(self.nthreads),
                "--no-nanny",
                "--host",
                "127.0.0.1",
                "--dashboard-address",
                "127.0.0.1:0",
                "--resources",
                f"slots={self.nthreads}",
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
