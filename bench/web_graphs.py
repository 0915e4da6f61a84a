"""The workflow part of the web benchmark (called by ``bench/web.py``; kept apart so the two
can change independently).

Graph pages: workflows of 50, 500 and 2,000 members seeded in the benchmark's project, each a
layered DAG whose members all have different parents (so nothing folds into a group node and
the picture really draws every node); their pages (SVG included) and unchanged polls are timed
against the static file like the other endpoints.

Fan-out end to end: a fresh data folder, one worker (4 threads), the time from submitting 500
independent ``true`` tasks until all are finished, against a 1 -> 498 -> 1 workflow of the
same 500 ``true`` tasks. Target: the workflow takes at most 1.3x the independent tasks.
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from webapp import create_app, orchestration
from webapp.store import graph_records
from webapp.worker import Worker

SIZES = (50, 500, 2000)


def layered(n: int, width: int = 25, seed: int = 14) -> dict:
    """``n`` tasks in layers of ``width``, each after two or three of the layer above."""
    rng = random.Random(seed)
    tasks = []
    for i in range(n):
        layer_start = (i // width) * width
        above = list(range(max(0, layer_start - width), layer_start))
        after = [f"t{p}" for p in sorted(rng.sample(above, min(len(above), 2 + i % 2)))]
        tasks.append({"key": f"t{i}", "payload": "true", "after": after})
    return {"title": f"graph of {n}", "tasks": tasks}


def seed_graphs(project: str, actor: str) -> dict[int, str]:
    """Graph IDs by size (call inside the benchmark's bound orchestration)."""
    return {n: orchestration.graph_new(project, layered(n), actor=actor).graph_id for n in SIZES}


def graph_endpoints(project: str, graphs: dict[int, str], version: str) -> list[tuple]:
    htmx = {"HX-Request": "true"}
    out = [(f"graph page ({n} nodes)", f"/projects/{project}/graphs/{graph_id}", {}, 200)
           for n, graph_id in graphs.items()]  # fmt: skip
    out += [(f"unchanged poll (graph {n})",
             f"/projects/{project}/graphs/{graph_id}/live?v={version}", htmx, 204)
            for n, graph_id in graphs.items()]  # fmt: skip
    return out


def _wait(done, deadline_s: float = 300.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError("the benchmark's tasks did not finish in time")
        time.sleep(0.01)  # deadline loop: real subprocesses are running


def _graph_over(graph_id: str) -> bool:
    """One indexed read (reading the whole run each time would slow the run it watches)."""
    row = graph_records.get_graph(orchestration.current().store.db, graph_id)
    return row["status"] in ("completed", "failed", "cancelled")


def _idle(counts: dict[str, int]) -> bool:
    return counts.get("queued", 0) + counts.get("running", 0) == 0


def fanout_vs_independent(n: int = 500, rounds: int = 3) -> tuple[float, float]:
    """Median seconds for ``n`` independent ``true`` tasks and for a 1 -> n-2 -> 1 workflow."""
    data_dir = Path(tempfile.mkdtemp(prefix="webapp-bench-fanout-"))
    independent, graph = [], []
    try:
        app = create_app({"DATA_DIR": str(data_dir), "WORKER_ENABLED": False,
                          "CREATE_FIRST_ADMIN": False})  # fmt: skip
        settings = orchestration.settings_of(app)
        with orchestration.bind(settings):
            orchestration.project_create("fan", name="fan-out", actor="bench")
            worker = Worker(settings, threads=4, name="bench-fanout").start()
            try:
                for _ in range(rounds):
                    started = time.perf_counter()
                    for _ in range(n):
                        orchestration.task_new("fan", payload="true", actor="bench")
                    _wait(lambda: _idle(orchestration.counts_by_status("fan")))
                    independent.append(time.perf_counter() - started)
                    shards = [{"key": f"s{i}", "payload": "true", "after": ["split"]}
                              for i in range(n - 2)]  # fmt: skip
                    definition = {"title": "fan", "tasks": [
                        {"key": "split", "payload": "true"}, *shards,
                        {"key": "join", "payload": "true", "after": [s["key"] for s in shards]},
                    ]}  # fmt: skip
                    started = time.perf_counter()
                    run = orchestration.graph_new("fan", definition, actor="bench")
                    _wait(lambda run=run: _graph_over(run.graph_id))
                    graph.append(time.perf_counter() - started)
            finally:
                worker.stop(10.0)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return statistics.median(independent), statistics.median(graph)


def report_graphs(ratios: dict[str, float], fanout: tuple[float, float] | None) -> str:
    """Print the graph figures; returns their one-line summary."""
    pages = " ".join(f"graph{n}={ratios[f'graph page ({n} nodes)']:.2f}" for n in SIZES)
    poll = max(ratios[f"unchanged poll (graph {n})"] for n in SIZES)
    line = f"graph ratios: {pages} graph_poll={poll:.2f}"
    print("graph targets: 500 nodes <= 10x static, 2,000 nodes <= 40x, unchanged poll <= 1.5x")
    if fanout is not None:
        independent, graph = fanout
        print(f"fan-out end to end: 500 independent tasks {independent:.2f} s, 1 -> 498 -> 1 "
              f"workflow {graph:.2f} s (target: the workflow <= 1.3x)")  # fmt: skip
        line += f" fanout={graph / independent:.2f}"
    print(line)
    return line
