"""Seed 000's contracts: archive logs on no match, name categories, live ``TaskMeta.status``."""

from __future__ import annotations

import subprocess
import time
from dataclasses import replace

import namer
import pytest

import webapp.orchestration as orch
from webapp.orchestration import context, errors, naming
from webapp.orchestration.recovery import HOSTNAME, process_start
from webapp.orchestration.status import derive_status
from webapp.store import workers


def test_task_archive_logs_returns_none_when_no_archive_matches(project):
    assert orch.task_archive_logs("demo", "zz") is None
    task = orch.task_new("demo", payload="true")
    orch.task_delete("demo", task.task_id)
    assert orch.task_archive_logs("demo", "no-such-archive") is None


def _categories_of(name: str, categories: list[str]) -> bool:
    """Could ``name`` have come from these categories? (its noun is one of their words)."""
    noun = name.split("-", 1)[1]
    return any(
        noun in {w.replace(" ", "-").lower() for w in namer.list_words(category=c)}
        for c in categories
    )


@pytest.fixture
def spy_namer(monkeypatch):
    """Records the categories each generated name was drawn from."""
    seen: list[object] = []
    real = namer.generate

    def generate(**kwargs):
        seen.append(kwargs.get("category"))
        return real(**kwargs)

    monkeypatch.setattr(naming.namer, "generate", generate)
    return seen


def test_generated_names_follow_project_then_global_then_hash(settings, spy_namer):
    orch.project_create("zoo", name_categories=["animals"])
    orch.project_create("plain")
    orch.generate_task_name("zoo")
    assert spy_namer[-1] == ["animals"]  # the project's own categories
    orch.generate_task_name("plain")
    assert spy_namer[-1] == naming.default_categories_for_project("plain")  # the hash choice
    assert len(spy_namer[-1]) == 3
    with context.bind(replace(settings, task_name_categories=("food",))):
        orch.generate_task_name("plain")
        assert spy_namer[-1] == ["food"]  # the global setting beats the hash
        orch.generate_task_name("zoo")
        assert spy_namer[-1] == ["animals"]  # and the project's beats the global
        task = orch.task_new("plain", payload="true")
        assert spy_namer[-1] == ["food"] and task.name


def test_task_name_categories_setting_is_parsed_and_checked(tmp_path):
    config = {"DATA_DIR": str(tmp_path), "TASK_NAME_CATEGORIES": "animals, food"}
    assert orch.Settings.from_config(config).task_name_categories == ("animals", "food")
    with pytest.raises(errors.InvalidTaskName, match="Unknown name category 'nope'"):
        orch.Settings.from_config({**config, "TASK_NAME_CATEGORIES": ["nope"]})


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _claimed_by_worker(task, *, heartbeat_age: float, pid: int, proc_start: str | None):
    db = context.current().store.db
    workers.register_worker(db, {
        "id": "w-gone", "hostname": HOSTNAME, "pid": pid, "proc_start": proc_start,
        "threads": 1, "started_at": "2026-01-01T00:00:00",
        "heartbeat_at": time.time() - heartbeat_age,
    })  # fmt: skip
    [row] = workers.claim_runs(db, "w-gone", 1, derive=derive_status)
    assert row["task_id"] == task.task_id


def test_running_task_with_dead_worker_shows_unknown_with_the_reason(project):
    task = orch.task_new("demo", payload="sleep 100")
    _claimed_by_worker(task, heartbeat_age=3600, pid=_dead_pid(), proc_start="boot:1")
    meta = orch.get_task_meta("demo", task.task_id)
    assert meta.status == "unknown"
    assert "w-gone sent no heartbeat" in meta.status_reason
    assert "cannot be found; recovery will decide" in meta.status_reason
    assert not meta.is_terminal
    # Lists still read the stored status (an index serves them); the single read is live.
    assert orch.task_list("demo").items[0].status == "running"


def test_running_task_whose_worker_process_lives_stays_running(project):
    import os

    task = orch.task_new("demo", payload="sleep 100")
    _claimed_by_worker(
        task, heartbeat_age=3600, pid=os.getpid(), proc_start=process_start(os.getpid())
    )
    meta = orch.get_task_meta("demo", task.task_id)
    assert (meta.status, meta.status_reason) == ("running", None)


def test_running_task_with_a_fresh_heartbeat_stays_running(project):
    task = orch.task_new("demo", payload="sleep 100")
    _claimed_by_worker(task, heartbeat_age=0, pid=_dead_pid(), proc_start="boot:1")
    assert orch.get_task_meta("demo", task.task_id).status == "running"
