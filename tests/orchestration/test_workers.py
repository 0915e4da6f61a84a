"""The worker processes as the operations endpoints list them."""

from __future__ import annotations

from webapp import orchestration as orch
from webapp.worker import Worker


def test_a_registered_worker_is_listed_until_it_stops(settings):
    assert orch.live_workers() == []
    worker = Worker(settings, threads=1, name="lister")
    worker.run_once()  # registers and beats
    [row] = orch.live_workers()
    assert row["id"] == worker.id and row["heartbeat_at"] > 0 and row["threads"] == 1
    worker.stop(10.0)
    assert orch.live_workers() == []
