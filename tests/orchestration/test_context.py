"""Settings: built from Flask-style config with checked limits, bound per context."""

from __future__ import annotations

import threading

import pytest

from webapp import orchestration as orch
from webapp.orchestration.errors import NotBound


def test_settings_come_from_config_keys_and_reject_nonsense(tmp_path):
    settings = orch.Settings.from_config(
        {"DATA_DIR": str(tmp_path), "MAX_CONCURRENT_TASKS": "3", "WORKER_POLL_INTERVAL": "0.5"}
    )
    assert settings.database == str(tmp_path / "webapp.db")
    assert (settings.max_concurrent_tasks, settings.worker_poll_interval) == (3, 0.5)
    assert settings.tasks_root == tmp_path / "tasks"
    with pytest.raises(ValueError, match="max_concurrent_tasks must not be negative"):
        orch.Settings.for_data_dir(tmp_path, max_concurrent_tasks=-1)
    with pytest.raises(ValueError, match="heartbeat_interval must be a positive number"):
        orch.Settings.for_data_dir(tmp_path, heartbeat_interval=0)


def test_binding_is_per_context_and_says_how_to_fix_a_missing_one(tmp_path):
    settings = orch.Settings.for_data_dir(tmp_path)
    seen: list[object] = []
    with orch.bind(settings):
        assert orch.current() is settings
        thread = threading.Thread(target=lambda: seen.append(_current_or_error()))
        thread.start()
        thread.join()
    assert isinstance(seen[0], NotBound) and "orchestration.bind" in str(seen[0])
    with pytest.raises(TypeError, match="bind\\(\\) needs Settings"), orch.bind("nope"):
        pass


def _current_or_error():
    try:
        return orch.current()
    except NotBound as error:
        return error
