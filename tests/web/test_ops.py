"""/healthz and /metrics: who may read them and what they say."""

from __future__ import annotations

import re

import pytest

from webapp import orchestration

REMOTE = {"REMOTE_ADDR": "198.51.100.4"}


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} missing from:\n{text}"
    return float(match[1])


def test_healthz_needs_no_login_and_says_nothing_else(client):
    response = client.get("/healthz", environ_base=REMOTE)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert "Set-Cookie" not in response.headers


def test_metrics_from_loopback_count_tasks_workers_and_latency(client, demo_task, bound):
    from webapp.worker import Worker

    worker = Worker(orchestration.settings_of(client.application), threads=1, name="probe")
    worker.register()
    try:
        client.get("/login")
        response = client.get("/metrics")
    finally:
        worker.stop(5.0)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert metric(text, 'webapp_tasks{status="queued"}') == 1
    assert metric(text, 'webapp_tasks{status="completed"}') == 0
    assert metric(text, "webapp_queue_depth") == 1
    assert metric(text, "webapp_tasks_running") == 0
    assert metric(text, "webapp_workers") >= 1
    ages = re.findall(
        r'^webapp_worker_heartbeat_age_seconds\{worker="probe:.*"\} (\S+)$', text, re.MULTILINE
    )
    assert len(ages) == 1 and 0 <= float(ages[0]) < 60
    assert "# TYPE webapp_request_duration_seconds histogram" in text
    counts = re.findall(r'^webapp_request_duration_seconds_count\{pid="\d+"\} (\d+)$', text, re.M)
    assert counts and int(counts[0]) >= 1
    infinite = re.search(
        r'webapp_request_duration_seconds_bucket\{pid="\d+",le="\+Inf"\} (\d+)', text
    )
    assert infinite and infinite[1] == counts[0]


@pytest.mark.parametrize(
    "environ",
    [REMOTE, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.4"}],
)
def test_metrics_from_elsewhere_need_a_token(client, api_headers, environ):
    refused = client.get("/metrics", environ_base=environ)
    assert refused.status_code == 401
    allowed = client.get("/metrics", environ_base=environ, headers=api_headers("viewer"))
    assert allowed.status_code == 200 and "webapp_queue_depth" in allowed.get_data(as_text=True)
