"""Operations endpoints: ``/healthz`` (no auth, no data) and ``/metrics`` (Prometheus text).

``/metrics`` is open to loopback requests that did not come through a proxy, and otherwise
needs a bearer token. Request latency is measured per server process (label ``pid``); task
counts and worker heartbeats come from the database, so every process reports the same.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from bisect import bisect_left

from flask import Blueprint, Flask, Response, current_app, g, request

from webapp import orchestration
from webapp.orchestration import llm

bp = Blueprint("ops", __name__)
LATENCY_KEY = "webapp.request_latency"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FORWARD_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


class LatencyHistogram:
    """A cumulative Prometheus histogram of request durations, safe across request threads."""

    def __init__(self, buckets: tuple[float, ...] = BUCKETS):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        with self.lock:
            self.counts[bisect_left(self.buckets, seconds)] += 1
            self.total += seconds

    def lines(self, name: str, labels: str) -> list[str]:
        with self.lock:
            counts, total = list(self.counts), self.total
        out, running = [], 0
        for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f'{name}_bucket{{{labels},le="{le}"}} {running}')
        out.append(f"{name}_sum{{{labels}}} {total:.6f}")
        out.append(f"{name}_count{{{labels}}} {running}")
        return out


def loopback_without_proxy() -> bool:
    if any(header in request.headers for header in FORWARD_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.get("/healthz")
def healthz():
    return Response("ok\n", mimetype="text/plain")


@bp.get("/metrics")
def metrics():
    return Response(
        "\n".join(metric_lines()) + "\n",
        mimetype="text/plain",
        content_type="text/plain; version=0.0.4",
    )


metrics.anonymous_if = loopback_without_proxy
metrics.token_auth = True


def metric_lines() -> list[str]:
    counts = dict.fromkeys(orchestration.UI_STATUSES, 0)
    counts.update(orchestration.counts_by_status())
    lines = ["# HELP webapp_tasks Tasks by status.", "# TYPE webapp_tasks gauge"]
    lines += [f'webapp_tasks{{status="{status}"}} {n}' for status, n in sorted(counts.items())]
    lines += [
        "# HELP webapp_queue_depth Tasks waiting for a worker.",
        "# TYPE webapp_queue_depth gauge",
        f"webapp_queue_depth {counts['queued']}",
        "# HELP webapp_tasks_running Tasks running now.",
        "# TYPE webapp_tasks_running gauge",
        f"webapp_tasks_running {counts['running']}",
    ]
    lines += _llm_lines()
    now = time.time()
    live = orchestration.live_workers()
    lines += [
        "# HELP webapp_workers Worker processes that have not stopped.",
        "# TYPE webapp_workers gauge",
        f"webapp_workers {len(live)}",
        "# HELP webapp_worker_heartbeat_age_seconds Seconds since each worker's last heartbeat.",
        "# TYPE webapp_worker_heartbeat_age_seconds gauge",
    ]
    for row in sorted(live, key=lambda row: row["id"]):
        labels = f'worker="{_label(row["id"])}",host="{_label(row["hostname"])}"'
        age = max(0.0, now - float(row["heartbeat_at"] or now))
        lines.append(f"webapp_worker_heartbeat_age_seconds{{{labels}}} {age:.3f}")
    lines += [
        "# HELP webapp_request_duration_seconds Request latency of this server process.",
        "# TYPE webapp_request_duration_seconds histogram",
    ]
    histogram = current_app.extensions[LATENCY_KEY]
    lines += histogram.lines("webapp_request_duration_seconds", f'pid="{os.getpid()}"')
    return lines


def _llm_lines() -> list[str]:
    """Prompt runs, tokens and cost per project and model (counters: they only grow)."""
    totals = llm.usage_totals()
    lines = [
        "# HELP webapp_llm_runs_total Prompt runs that asked a model.",
        "# TYPE webapp_llm_runs_total counter",
    ]
    pairs = [(f'project="{_label(t["project_id"])}",model="{_label(t["model"])}"', t)
             for t in totals]  # fmt: skip
    lines += [f"webapp_llm_runs_total{{{lab}}} {t['runs']}" for lab, t in pairs]
    lines += [
        "# HELP webapp_llm_tokens_total Tokens used by prompt runs, by kind.",
        "# TYPE webapp_llm_tokens_total counter",
    ]
    for lab, t in pairs:
        lines.append(f'webapp_llm_tokens_total{{{lab},kind="prompt"}} {t["prompt_tokens"]}')
        lines.append(f'webapp_llm_tokens_total{{{lab},kind="completion"}} {t["completion_tokens"]}')
    lines += [
        "# HELP webapp_llm_cost_usd_total Cost of prompt runs in USD (runs with a price).",
        "# TYPE webapp_llm_cost_usd_total counter",
    ]
    lines += [f"webapp_llm_cost_usd_total{{{lab}}} {t['cost'] or 0:.6f}"
              for lab, t in pairs]  # fmt: skip
    return lines


def _label(value) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _observe(response):
    started = g.get("request_started")
    if started is not None and request.endpoint not in ("static", "htmx_js"):
        current_app.extensions[LATENCY_KEY].observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    """Call first, so the timer starts before every other before_request hook."""
    app.extensions[LATENCY_KEY] = LatencyHistogram()
    app.before_request(_start_timer)
    app.after_request(_observe)
