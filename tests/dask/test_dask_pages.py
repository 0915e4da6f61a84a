"""The dashboard shows the cluster: the cluster page, where a task ran, /metrics."""

from __future__ import annotations

import re

import pytest
from conftest import wait_for

from webapp import orchestration as orch
from webapp.web.cluster import BACKEND_KEY
from webapp.worker import Worker
from webapp.worker.backends.dask import DaskBackend


@pytest.fixture(autouse=True)
def close_page_client(app):
    """The page's own client to the scheduler ends with the test."""
    yield
    backend = app.extensions.pop(BACKEND_KEY, None)
    if backend is not None:
        backend.close()


def test_the_cluster_page_lists_the_scheduler_and_its_workers(
    dask_cluster, monkeypatch, viewer_client
):
    monkeypatch.setenv("WEBAPP_DASK_SCHEDULER", dask_cluster.address)
    page = viewer_client.get("/cluster").get_data(as_text=True)
    assert dask_cluster.address in page and "dispatching" in page
    assert "allowed-failures is 0" in page and "0 of 2 in use" in page
    assert ">w1 <" in page and ">w2 <" in page


def test_a_cluster_allowing_failures_is_called_out(make_cluster, monkeypatch, viewer_client):
    unsafe = make_cluster("unsafe", allowed_failures=3, workers=0)
    monkeypatch.setenv("WEBAPP_DASK_SCHEDULER", unsafe.address)
    page = viewer_client.get("/cluster").get_data(as_text=True)
    assert "not dispatching" in page and "allows 3 failures" in page


def test_without_a_scheduler_the_page_says_tasks_run_here(monkeypatch, viewer_client):
    monkeypatch.delenv("WEBAPP_DASK_SCHEDULER", raising=False)
    page = viewer_client.get("/cluster").get_data(as_text=True)
    assert "Tasks run on this machine" in page


def test_the_task_page_says_where_it_ran_and_metrics_show_the_cluster(
    dask_cluster, monkeypatch, app, bound, viewer_client, client
):
    monkeypatch.setenv("WEBAPP_DASK_SCHEDULER", dask_cluster.address)
    orch.project_create("demo", actor="test")
    task = orch.task_new("demo", payload="echo hi")
    page = viewer_client.get(f"/projects/demo/tasks/{task.task_id}").get_data(as_text=True)
    assert "waiting for a cluster slot" in page
    worker = Worker(orch.settings_of(app), threads=1, cluster=DaskBackend(dask_cluster.address))
    try:
        worker.start()
        wait_for(lambda: orch.get_task_meta("demo", task.task_id).is_terminal)
    finally:
        worker.stop(10.0)
    page = viewer_client.get(f"/projects/demo/tasks/{task.task_id}").get_data(as_text=True)
    assert re.search(r"ran on host w[12]", page), page
    client.get("/login")
    text = client.get("/metrics").get_data(as_text=True)
    assert "webapp_cluster_up 1" in text
    assert re.search(r'^webapp_cluster_slots\{worker="w1",address="[^"]+"\} 1$', text, re.M)
