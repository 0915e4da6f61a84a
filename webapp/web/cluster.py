"""The cluster page (``/cluster``), where a task ran, and the cluster's ``/metrics`` lines.

Tasks run on this machine unless ``WEBAPP_DASK_SCHEDULER`` names a Dask scheduler (see
:mod:`webapp.worker.backends.dask`). The page asks the scheduler directly: its state, the
configuration check (``allowed-failures`` must be 0, or nothing is dispatched), and per
worker its slots, running tasks, CPU and memory.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, render_template

from webapp import orchestration
from webapp.worker.backends import dask as dask_backend
from webapp.worker.backends.dask_handler import WAITING_FOR_SLOT, placement

bp = Blueprint("cluster", __name__)
BACKEND_KEY = "webapp.cluster"


def cluster_backend() -> dask_backend.DaskBackend | None:
    """This server's worker's backend, else one for the page (None: local runs only)."""
    worker = current_app.extensions.get("webapp.worker")
    if worker is not None and getattr(worker, "cluster", None) is not None:
        return worker.cluster
    address = dask_backend.scheduler_address()
    if not address:
        return None
    backend = current_app.extensions.get(BACKEND_KEY)
    if backend is None or backend.address != address:
        backend = current_app.extensions[BACKEND_KEY] = dask_backend.DaskBackend(address)
    return backend


def cluster_state() -> dict[str, Any]:
    backend = cluster_backend()
    if backend is None:
        return {"configured": False}
    problem = backend.check()
    workers = backend.workers() if backend.client() is not None else {}
    return {
        "configured": True, "address": backend.address,
        "reachable": backend.client() is not None, "problem": problem,
        "workers": sorted(workers.items(), key=lambda item: str(item[1]["name"])),
        "slots": sum(w["slots"] for w in workers.values()),
        "running": sum(w["running"] for w in workers.values()),
    }  # fmt: skip


@bp.get("/cluster")
def show():
    return render_template("cluster/show.html", cluster=cluster_state())


def run_placement(task: Any) -> str | None:
    """ "ran on host w1" / "running on the Dask cluster" / "waiting for a cluster slot"."""
    run_id = getattr(task, "run_id", None)
    where = placement(orchestration.current().store.db, run_id) if run_id else None
    status = getattr(task, "status", None)
    if where and where.get("backend") == "dask":
        if where.get("host"):
            return f"ran on host {where['host']}"
        return "running on the Dask cluster"
    if status == "queued" and dask_backend.scheduler_address():
        return WAITING_FOR_SLOT
    return None


def metric_lines() -> list[str]:
    """The cluster as Prometheus gauges (nothing when tasks run locally)."""
    state = cluster_state()
    if not state["configured"]:
        return []
    lines = [
        "# HELP webapp_cluster_up 1 when the Dask scheduler answers and may be dispatched to.",
        "# TYPE webapp_cluster_up gauge",
        f"webapp_cluster_up {int(state['reachable'] and not state['problem'])}",
        "# HELP webapp_cluster_slots Task slots of each Dask worker.",
        "# TYPE webapp_cluster_slots gauge",
    ]
    rows = state["workers"]
    labels = {a: f'worker="{w["name"]}",address="{a}"' for a, w in rows}
    lines += [f"webapp_cluster_slots{{{labels[a]}}} {w['slots']}" for a, w in rows]
    for metric, key, text in (
        ("webapp_cluster_running", "running", "Tasks running on each Dask worker."),
        ("webapp_cluster_cpu_percent", "cpu", "CPU use of each Dask worker (percent)."),
        ("webapp_cluster_memory_bytes", "memory", "Memory of each Dask worker (bytes)."),
    ):
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} gauge"]
        lines += [f"{metric}{{{labels[a]}}} {w[key] or 0}" for a, w in rows]
    return lines


def init_app(app: Flask) -> None:
    """The task page's "where" line (the blueprint is in webapp.web.BLUEPRINTS)."""
    app.add_template_global(run_placement, "run_placement")
