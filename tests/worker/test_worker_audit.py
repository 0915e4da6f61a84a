"""What workers do on their own is on the audit log: runs they find lost, graphs requeued."""

from __future__ import annotations

import time

import pytest

from webapp import orchestration as orch
from webapp.accounts import audit
from webapp.orchestration import recovery
from webapp.store.accounts import accounts_migrations
from webapp.store.db import open_database


@pytest.fixture
def audit_db(settings):
    """The installation's database with the accounts tables (as the server creates them)."""
    db = open_database(settings.database, migrations=(accounts_migrations,))
    yield db
    db.close()


def test_a_reaper_puts_the_lost_run_and_the_requeued_graph_on_record(
    project, audit_db, make_worker, until
):
    graph = orch.graph_new("demo", {"tasks": [{"key": "a", "payload": "sleep 300"}]})
    first = make_worker(threads=1)
    first.run_once()
    member = orch.graph_get("demo", graph.graph_id).members[0]
    until(lambda: orch.get_task_meta("demo", member.task_id).status == "running")
    run_id = orch.get_task_meta("demo", member.task_id).run_id
    until(lambda: run_id in recovery.run_processes([run_id]))
    assert not first.stop(timeout=0.1, cancel=False)  # it claims nothing more; its task runs on
    reaper = make_worker(threads=1)
    reaper.register()
    recovery.reap_dead_workers(orch.current(), reaper.id, now=time.time() + 60)
    entries = {e.action: e for e in audit.query(audit_db, actor=reaper.id).items}
    lost, requeued = entries["task.lost"], entries["graph.requeue"]
    assert lost.target == f"demo/{member.task_id}" and "sent no heartbeat" in lost.detail
    assert requeued.target == f"demo/{graph.graph_id}" and "sent no heartbeat" in requeued.detail
    until(lambda: not first._running, timeout=15)
