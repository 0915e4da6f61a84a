"""Dask backend benchmark: the same work through the local backend and a real Dask cluster
(one ``dask scheduler`` and two ``dask worker --nthreads 2`` on loopback), in one run.

- tasks/s: N queued ``true`` tasks run by one worker (4 threads) with the local backend,
  then by one worker sending them to the cluster; timed from the first claim to the last end.
- log latency: a command prints a timestamped line every 20 ms; the time from the print to
  the chunk reaching the dashboard's log callback (p50/p95).
- stop latency: ``sleep 300`` started on the cluster, stopped; the time until its end (p95).
- kill detection: a Dask worker killed with SIGKILL mid-task; the time until the run is lost.

Usage: .venv/bin/python bench/dask.py [--tasks N]    (needs pip install -e '.[dask]')
The last line is always `ratios: dask/local=<x> log_p95_ms=<y> stop_p95_ms=<z>`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This file is named dask.py: its folder must not shadow the dask package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT / "tests" / "dask"))

from cluster import Cluster  # noqa: E402

from webapp import orchestration as orch  # noqa: E402
from webapp.worker import Worker  # noqa: E402
from webapp.worker.backends import local  # noqa: E402
from webapp.worker.backends.dask import DaskBackend, RunLost  # noqa: E402


def tasks_per_second(data_dir: Path, count: int, address: str | None) -> float:
    settings = orch.Settings.for_data_dir(data_dir, worker_poll_interval=0.02)
    with orch.bind(settings):
        orch.project_create("bench")
        tasks = [orch.task_new("bench", payload="true") for _ in range(count)]
        worker = Worker(settings, threads=4, cluster=DaskBackend(address) if address else None)
        start = time.perf_counter()
        worker.start()
        db = settings.store.db
        while db.execute("SELECT count(*) FROM runs WHERE finished_at IS NULL").fetchone()[0]:
            time.sleep(0.01)
        took = time.perf_counter() - start
        worker.stop()
        done = db.execute("SELECT count(*) FROM runs WHERE exit_code = 0").fetchone()[0]
    settings.store.close()
    if done != len(tasks):
        print(f"  warning: {done} of {len(tasks)} completed")
    return count / took


def request(run_id: str, **extra) -> dict:
    return {"run_id": run_id, "run_no": 1, "project_id": "bench", "task_id": run_id,
            "env": {"WEBAPP_RUN_ID": run_id}, "grace": 2.0, "timeout": None, **extra}  # fmt: skip


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def log_latency(backend: DaskBackend, lines: int = 100) -> list[float]:
    delays: list[float] = []

    def seen(_stream: str, data: bytes) -> None:
        now = time.time()
        delays.extend(now - float(x) for x in data.decode().split())

    script = f"import time\nfor _ in range({lines}):\n print(time.time(), flush=True)\n" \
             " time.sleep(0.02)"  # fmt: skip
    backend.run([sys.executable, "-c", script], request("latency"), seen)
    return [d * 1000 for d in delays]


def stop_once(backend: DaskBackend, n: int) -> float:
    started = threading.Event()
    stopper: list = []
    ended: list = []

    def run() -> None:
        with contextlib.suppress(Exception):  # TaskCancelled: the stop worked
            backend.run(["bash", "-c", "echo up; sleep 300"], request(f"stop-{n}"),
                        lambda *_: started.set(), set_canceller=stopper.append)  # fmt: skip
        ended.append(time.perf_counter())

    thread = threading.Thread(target=run)
    thread.start()
    started.wait(30)
    begin = time.perf_counter()
    stopper[0]()
    thread.join(30)
    return (ended[0] - begin) * 1000


def stop_latency(backend: DaskBackend, rounds: int = 10) -> list[float]:
    return [stop_once(backend, n) for n in range(rounds)]


def kill_detection(backend: DaskBackend, cluster: Cluster) -> float:
    started = threading.Event()
    ended: list = []

    def run() -> None:
        try:
            backend.run(["bash", "-c", "echo up; sleep 300"], request("kill"),
                        lambda *_: started.set())  # fmt: skip
        except RunLost:
            ended.append(time.perf_counter())

    thread = threading.Thread(target=run)
    thread.start()
    started.wait(30)
    shell = local.run_processes(["kill"])["kill"][0]
    with open(f"/proc/{shell}/stat") as fh:
        parent = int(fh.read().rsplit(")", 1)[1].split()[1])
    begin = time.perf_counter()
    os.kill(parent, signal.SIGKILL)
    thread.join(30)
    return (ended[0] - begin) * 1000 if ended else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cluster = Cluster(tmp / "cluster", nthreads=2)
        try:
            local_rate = tasks_per_second(tmp / "local", args.tasks, None)
            dask_rate = tasks_per_second(tmp / "dask", args.tasks, cluster.address)
            print(f"tasks/s: local {local_rate:.0f}, dask {dask_rate:.0f}")
            backend = DaskBackend(cluster.address, resources={})
            try:
                delays = log_latency(backend)
                print(f"log latency ms: p50 {p(delays, 0.5):.1f} p95 {p(delays, 0.95):.1f}")
                stops = stop_latency(backend)
                print(f"stop latency ms: p50 {p(stops, 0.5):.0f} p95 {p(stops, 0.95):.0f}")
                print(f"kill detection ms: {kill_detection(backend, cluster):.0f}")
            finally:
                backend.close()
        finally:
            cluster.close()
    print(
        f"ratios: dask/local={dask_rate / local_rate:.2f} log_p95_ms={p(delays, 0.95):.1f} "
        f"stop_p95_ms={p(stops, 0.95):.0f}"
    )


if __name__ == "__main__":
    main()
