"""Worker benchmark: 1000 queued `true` tasks through the whole server path, in one run.

(a) limit: ThreadPoolExecutor(4) calling subprocess.run(["bash", "-c", "true"]) directly;
(b) ours:  1000 tasks queued with orchestration.task_new, then ONE worker process with 4
           executor threads claims and runs them: BEGIN IMMEDIATE claims, a workspace and a
           log file per task, pid/pgid recorded, every transition persisted with its actor;
           each command under its own run supervisor (forked by the worker's fork server);
           timed from the worker's first claim to its last completion (start-up excluded);
(b') plain: the same 1000 tasks through the same worker with ``supervised=False`` (each
           command a plain subprocess of the worker): what the supervisor costs;
(c) huey:  SqliteHuey with a 4-thread huey_consumer running the same subprocess (skipped
           with a note when huey is not importable: pip install 'webapp[bench]').
The worker's peak RSS is read in its own process (target: under 60 MiB).

Usage: .venv/bin/python bench/worker.py [--quick] [--tasks N] [--trials N]
The last line is always `ratios: ours/limit=<x> ours/huey=<y> supervised/plain=<z>` (z: the
supervisor's cost, target within 10%).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

THREADS = 4
ARGV = ["bash", "-c", "true"]


# -- (a) the limit ----------------------------------------------------------------------------
def run_limit(count: int) -> float:
    def one(_: int) -> int:
        return subprocess.run(ARGV, capture_output=True, check=True).returncode

    with ThreadPoolExecutor(THREADS) as pool:
        start = time.perf_counter()
        list(pool.map(one, range(count)))
        return time.perf_counter() - start


# -- (b) ours ---------------------------------------------------------------------------------
def queue_tasks(data_dir: Path, count: int) -> float:
    """Create a project and queue ``count`` tasks through task_new; returns the seconds."""
    from webapp import orchestration as orch

    settings = orch.Settings.for_data_dir(data_dir)
    with orch.bind(settings):
        orch.project_create("bench")
        start = time.perf_counter()
        for _ in range(count):
            orch.task_new("bench", payload="true", name="bench", actor="bench")
        elapsed = time.perf_counter() - start
    settings.store.close()
    return elapsed


def warm_supervisor(worker, data_dir: str) -> None:
    """Start the worker's fork server and run one command through it (start-up excluded)."""
    scratch = Path(data_dir) / "warm"
    request = {"argv": ["true"], "state_path": str(scratch / "s.json"),
               "log_path": str(scratch / "l.log"), "cap_bytes": 1024}  # fmt: skip
    conn = worker.backend.start(request)
    while conn.recv(65536):
        pass
    conn.close()


def child_worker(data_dir: str, supervised: bool) -> None:
    """Run in a fresh process: one Worker until the queue is empty; print JSON figures."""
    from webapp import orchestration as orch
    from webapp.worker import Worker

    settings = orch.Settings.for_data_dir(data_dir, worker_poll_interval=0.05)
    with orch.bind(settings):
        worker = Worker(settings, threads=THREADS, supervised=supervised)
        worker.register()
        worker.recover()
        if supervised:
            warm_supervisor(worker, data_dir)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        worker.start()
        pause = threading.Event()
        while not worker.is_idle():
            pause.wait(0.005)
        elapsed = time.perf_counter() - start
        worker.stop(timeout=10)
        db = settings.store.db
        figures = {
            "elapsed": elapsed,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_idle_mib": rss_before,
            "completed": orch.counts_by_status("bench")["completed"],
            "transitions": db.execute("SELECT count(*) FROM transitions").fetchone()[0],
            "logs": sum(1 for _ in settings.tasks_root.glob("bench/*/logs/task.log")),
            "persistence_errors": len(worker.executor.persistence_errors),
        }
    print(json.dumps(figures))


def run_ours(count: int, workdir: Path, trial: int, supervised: bool = True) -> tuple[dict, float]:
    data_dir = workdir / f"ours-{trial}-{'supervised' if supervised else 'plain'}"
    queued = queue_tasks(data_dir, count)
    argv = [sys.executable, __file__, "--child-worker", str(data_dir)]
    out = subprocess.run(
        argv + ([] if supervised else ["--plain"]), capture_output=True, text=True, check=True,
    )  # fmt: skip
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    if figures["completed"] != count or figures["persistence_errors"]:
        raise SystemExit(f"ours: not every task completed cleanly: {figures}")
    return figures, queued


# -- (c) huey ---------------------------------------------------------------------------------
HUEY_APP = """
import os, subprocess
from huey import SqliteHuey
huey = SqliteHuey(filename=os.environ["BENCH_HUEY_DB"])

@huey.task()
def true_task():
    return subprocess.run(["bash", "-c", "true"], capture_output=True, check=True).returncode
"""


class Huey:
    """A SqliteHuey consumer process (4 threads) and a client that times batches."""

    def __init__(self, workdir: Path) -> None:
        (workdir / "bench_huey_app.py").write_text(textwrap.dedent(HUEY_APP))
        env = {**os.environ, "BENCH_HUEY_DB": str(workdir / "huey.db"),
               "PYTHONPATH": str(workdir)}  # fmt: skip
        consumer_bin = Path(sys.executable).with_name("huey_consumer")
        self.consumer = subprocess.Popen(
            [str(consumer_bin), "bench_huey_app.huey", "-w", str(THREADS), "-k", "thread"]
            + ["-q", "-d", "0.005", "-m", "0.05", "-n", "-C"],
            env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.environ["BENCH_HUEY_DB"] = env["BENCH_HUEY_DB"]
        sys.path.insert(0, str(workdir))
        import bench_huey_app

        self.app = bench_huey_app
        self.batch(50)  # warm-up: the consumer is polling at its shortest delay

    def batch(self, n: int) -> float:
        start = time.perf_counter()
        pending = [self.app.true_task() for _ in range(n)]
        while pending:  # poll results every 5 ms, like a client would
            pending = [r for r in pending if r.get() is None]
            if pending:
                time.sleep(0.005)
        return time.perf_counter() - start

    def close(self) -> None:
        self.consumer.terminate()
        self.consumer.wait(10)


def start_huey(workdir: Path) -> Huey | None:
    try:
        import huey  # noqa: F401
    except ImportError:
        print("huey: not importable, (c) skipped (pip install 'webapp[bench]' to include it)")
        return None
    return Huey(workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 tasks, one trial")
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--child-worker", metavar="DATA_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_worker:
        child_worker(args.child_worker, supervised=not args.plain)
        return
    count = args.tasks or (200 if args.quick else 1000)
    trials = args.trials or (1 if args.quick else 3)

    with tempfile.TemporaryDirectory(prefix="bench-worker-") as tmp:
        workdir = Path(tmp)
        run_limit(50)  # warm-up: page cache, bash binary
        huey = start_huey(workdir)
        limit, ours, plain, figures, queued, huey_times = [], [], [], [], [], []
        try:
            for trial in range(trials):  # interleaved, so drift hits all three alike
                limit.append(run_limit(count))
                result, queue_time = run_ours(count, workdir, trial)
                ours.append(result["elapsed"])
                figures.append(result)
                queued.append(queue_time)
                plain.append(run_ours(count, workdir, trial, supervised=False)[0]["elapsed"])
                if huey is not None:
                    huey_times.append(huey.batch(count))
        finally:
            if huey is not None:
                huey.close()

    rate = {name: count / statistics.median(times) for name, times in
            (("limit", limit), ("ours", ours), ("plain", plain), ("huey", huey_times or []))
            if times}  # fmt: skip
    last = figures[-1]
    print(f"{count} tasks of `bash -c true`, {THREADS} threads, median of {trials} trial(s)")
    print(f"(a) limit (ThreadPoolExecutor + subprocess.run):  {rate['limit']:8.0f} tasks/s")
    print(f"(b) ours  (task_new -> worker process, SQLite):   {rate['ours']:8.0f} tasks/s")
    print(f"(b') ours without run supervisors (plain path):   {rate['plain']:8.0f} tasks/s")
    cost = rate["plain"] / rate["ours"]
    print(f"run supervisor: {100 * (cost - 1):+.1f}% time per task against the plain path")
    if "huey" in rate:
        print(f"(c) huey  (SqliteHuey, 4-thread consumer):        {rate['huey']:8.0f} tasks/s")
    print(f"task_new: {count / statistics.median(queued):.0f} tasks/s queued")
    print(f"persisted: {last['transitions']} transitions, {last['logs']} log files, "
          f"{last['completed']} completed")  # fmt: skip
    print(f"worker peak RSS: {max(f['rss_mib'] for f in figures):.1f} MiB "
          f"(idle before the run: {last['rss_idle_mib']:.1f} MiB)")  # fmt: skip
    huey_ratio = f"{rate['ours'] / rate['huey']:.2f}" if "huey" in rate else "n/a"
    print(f"ratios: ours/limit={rate['ours'] / rate['limit']:.2f} ours/huey={huey_ratio} "
          f"supervised/plain={rate['ours'] / rate['plain']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
