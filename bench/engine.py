"""Engine benchmark: 1000 `bash -c true` tasks, side by side, in one run.

(a) limit: ThreadPoolExecutor(4) calling subprocess.run(["bash", "-c", "true"]) directly;
(b) ours:  Task.bash("true") through TaskExecutor(store=SQLiteStore(tmpfile)), 4 workers,
           every transition committed to SQLite;
(c) huey:  SqliteHuey with a 4-thread huey_consumer process running the same subprocess
           (skipped with a note when huey is not importable: pip install 'webapp[bench]').
Then, through TaskGraph with the same store (medians of the trials): a 100-task chain, a
1 -> 200 -> 1 fan-out/fan-in, and a 2000-node graph whose handler returns at once
(scheduling cost only).

Usage: .venv/bin/python bench/engine.py [--quick] [--tasks N] [--trials N]
The last line is always `ratios: ours/limit=<x> ours/huey=<y>`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from webapp.engine import Task, TaskExecutor, TaskGraph, TaskType
from webapp.store import InMemoryStore

WORKERS = 4
ARGV = ["bash", "-c", "true"]


def sqlite_store(path: Path):
    """SQLiteStore when the store room has it, else InMemoryStore (noted in the output)."""
    try:
        from webapp.store import SQLiteStore
    except ImportError:
        return InMemoryStore(), "InMemoryStore (SQLiteStore not available)"
    return SQLiteStore(path), "SQLiteStore"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- (a) the limit ----------------------------------------------------------------------
def run_limit(count: int) -> float:
    def one(_: int) -> int:
        return subprocess.run(ARGV, capture_output=True, check=True).returncode

    with ThreadPoolExecutor(WORKERS) as pool:
        start = time.perf_counter()
        list(pool.map(one, range(count)))
        return time.perf_counter() - start


# -- (b) ours ---------------------------------------------------------------------------
def run_ours(count: int, workdir: Path, trial: int) -> tuple[float, str]:
    store, kind = sqlite_store(workdir / f"ours-{trial}.db")
    with TaskExecutor(store=store, max_workers=WORKERS) as executor:
        tasks = [Task.bash("true") for _ in range(count)]
        start = time.perf_counter()
        futures = [executor.submit(task) for task in tasks]
        wait(futures)
        elapsed = time.perf_counter() - start
    failed = [f.exception() for f in futures if f.exception() is not None]
    if failed or executor.persistence_errors:
        raise SystemExit(f"ours: {failed[:3]} {executor.persistence_errors[:3]}")
    return elapsed, kind


def chain_and_fan(executor: TaskExecutor) -> tuple[float, float]:
    """Wall time of a 100-task chain and of a 1 -> 200 -> 1 fan through TaskGraph."""
    chain, previous = TaskGraph(title="chain"), None
    for i in range(100):
        previous = chain.add(Task.bash("true", title=f"c{i}"), after=[previous] if previous else [])
    start = time.perf_counter()
    chain.run(executor, max_workers=WORKERS)
    chain_wall = time.perf_counter() - start

    fan = TaskGraph(title="fan")
    root = fan.add(Task.bash("true", title="root"))
    middle = [fan.add(Task.bash("true", title=f"m{i}"), after=[root]) for i in range(200)]
    fan.add(Task.bash("true", title="join"), after=middle)
    start = time.perf_counter()
    fan.run(executor, max_workers=WORKERS)
    fan_wall = time.perf_counter() - start
    if not (chain.ok and fan.ok):
        raise SystemExit("a benchmark graph did not succeed")
    return chain_wall, fan_wall


def noop_graph() -> float:
    """Scheduling cost alone: 2000 nodes, each after one or two earlier ones, no-op handler."""
    noop = TaskExecutor.empty()
    noop.register(TaskType.BASH, lambda context: None)
    big = TaskGraph(title="noop")
    tasks = [big.add(Task.bash("", title=f"n{i}")) for i in range(2000)]
    for i in range(1, 2000):
        big.add(tasks[i], after=[tasks[(i - 1) // 2], tasks[i // 3]])
    start = time.perf_counter()
    big.run(noop, max_workers=WORKERS)
    if not big.ok:
        raise SystemExit("the no-op graph did not succeed")
    return time.perf_counter() - start


def graph_runs(workdir: Path, trials: int) -> dict[str, float]:
    """Medians over ``trials`` runs, all persisted through one store."""
    store, _ = sqlite_store(workdir / "graphs.db")
    executor = TaskExecutor(store=store)
    walls = [chain_and_fan(executor) for _ in range(trials)]
    return {
        "chain_step_ms": statistics.median(chain for chain, _ in walls) * 1000 / 100,
        "fan_s": statistics.median(fan for _, fan in walls),
        "noop_2000_s": statistics.median(noop_graph() for _ in range(trials)),
    }


# -- (c) huey ---------------------------------------------------------------------------
HUEY_APP = """
import os, subprocess
from huey import SqliteHuey
huey = SqliteHuey(filename=os.environ["BENCH_HUEY_DB"])

@huey.task()
def true_task():
    return subprocess.run(["bash", "-c", "true"], capture_output=True, check=True).returncode
"""


def run_huey(count: int, workdir: Path, trials: int) -> list[float] | None:
    try:
        import huey  # noqa: F401
    except ImportError:
        print("huey: not importable, (c) skipped (pip install 'webapp[bench]' to include it)")
        return None
    (workdir / "bench_huey_app.py").write_text(textwrap.dedent(HUEY_APP))
    env = {**os.environ, "BENCH_HUEY_DB": str(workdir / "huey.db"), "PYTHONPATH": str(workdir)}
    consumer_bin = Path(sys.executable).with_name("huey_consumer")
    consumer = subprocess.Popen(
        [str(consumer_bin), "bench_huey_app.huey", "-w", str(WORKERS), "-k", "thread", "-q"]
        + ["-d", "0.005", "-m", "0.05", "-n", "-C"],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ.update({"BENCH_HUEY_DB": env["BENCH_HUEY_DB"]})
    sys.path.insert(0, str(workdir))
    try:
        import bench_huey_app

        def batch(n: int) -> float:
            start = time.perf_counter()
            pending = [bench_huey_app.true_task() for _ in range(n)]
            while pending:  # poll results every 5 ms, like a client would
                pending = [r for r in pending if r.get() is None]
                if pending:
                    time.sleep(0.005)
            return time.perf_counter() - start

        batch(50)  # warm-up: the consumer is polling at its shortest delay
        return [batch(count) for _ in range(trials)]
    finally:
        consumer.terminate()
        consumer.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 tasks, one trial")
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--trials", type=int, default=None)
    args = parser.parse_args()
    count = args.tasks or (200 if args.quick else 1000)
    trials = args.trials or (1 if args.quick else 3)

    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        workdir = Path(tmp)
        run_limit(50)  # warm-up: page cache, bash binary
        limit, ours, kind = [], [], ""
        for trial in range(trials):  # interleaved, so drift hits both alike
            limit.append(run_limit(count))
            elapsed, kind = run_ours(count, workdir, trial)
            ours.append(elapsed)
        graphs = graph_runs(workdir, trials)
        huey_times = run_huey(count, workdir, trials)

    rate = {name: count / statistics.median(times) for name, times in
            (("limit", limit), ("ours", ours), ("huey", huey_times or [])) if times}  # fmt: skip
    print(f"{count} tasks of `bash -c true`, {WORKERS} workers, median of {trials} trial(s)")
    print(f"(a) limit (ThreadPoolExecutor + subprocess.run): {rate['limit']:8.0f} tasks/s")
    print(f"(b) ours  (TaskExecutor + {kind}):  {rate['ours']:8.0f} tasks/s")
    if "huey" in rate:
        print(f"(c) huey  (SqliteHuey, 4-thread consumer):       {rate['huey']:8.0f} tasks/s")
    print(f"chain of 100 through TaskGraph: {graphs['chain_step_ms']:.2f} ms per step")
    print(f"fan-out/fan-in 1 -> 200 -> 1:   {graphs['fan_s']:.3f} s")
    print(f"2000-node no-op graph:          {graphs['noop_2000_s']:.3f} s")
    print(f"peak RSS (this process): {peak_rss_mib():.1f} MiB")
    huey_ratio = f"{rate['ours'] / rate['huey']:.2f}" if "huey" in rate else "n/a"
    print(f"ratios: ours/limit={rate['ours'] / rate['limit']:.2f} ours/huey={huey_ratio}")


if __name__ == "__main__":
    main()
