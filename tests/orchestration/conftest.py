"""Fixtures of the lifecycle tests: settings bound to a temporary data folder, a project."""

from __future__ import annotations

import pytest

from webapp.orchestration import Settings, bind, project_create


@pytest.fixture
def settings(tmp_path):
    """Settings on a fresh data folder, bound for the test; fast worker timings."""
    bound = Settings.for_data_dir(
        tmp_path / "data", worker_poll_interval=0.05, heartbeat_interval=0.2
    )
    with bind(bound):
        yield bound
    bound.store.close()


@pytest.fixture
def project(settings):
    """A project "demo" with a short shutdown grace."""
    return project_create("demo", actor="alice", shutdown_grace=1.0)
