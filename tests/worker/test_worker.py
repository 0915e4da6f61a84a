"""The worker in one process: running, logs, stop, limits, crashes, reaping, deletes."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from webapp import orchestration as orch
from webapp.orchestration import recovery
from webapp.orchestration.status import derive_status
from webapp.store import records, workers


def test_a_task_runs_in_its_workspace_with_the_project_env(settings, make_worker, until, status):
    orch.project_create("env", env={"GREETING": "hello"})
    task = orch.task_new("env", payload='echo "$GREETING $WEBAPP_TASK_ID"; pwd; echo oops >&2')
    worker = make_worker()
    assert worker.run_once() == 1
    until(lambda: status(task) == "completed")
    meta = orch.get_task_meta("env", task.task_id)
    workspace = settings.tasks_root / "env" / task.task_id / "workspace"
    assert meta.exit_code == 0 and meta.error is None
    assert meta.result_output_tail == f"hello {task.task_id}\n{workspace}\n"
    log = orch.read_task_log("env", task.task_id)
    assert log.segments[:2] == (("stdout", f"hello {task.task_id}\n{workspace}\n"),
                                ("stderr", "oops\n"))  # fmt: skip
    assert log.segments[-1][0] == "system" and "exited with code 0" in log.segments[-1][1]
    steps = [(t.actor, t.from_status, t.to_status) for t in orch.task_history("env", task.task_id)]
    assert steps == [
        ("system", None, "queued"),
        (worker.id, "queued", "running"),
        (worker.id, "running", "completed"),
    ]


def test_failures_and_timeouts_are_recorded(project, make_worker, until, status):
    failing = orch.task_new("demo", payload="echo bad >&2; exit 3")
    slow = orch.task_new("demo", payload="sleep 30", timeout=0.3)
    make_worker(threads=2, start=True)
    until(lambda: status(failing) == "failed" and status(slow) == "failed")
    failed = orch.get_task_meta("demo", failing.task_id)
    assert (failed.exit_code, failed.termination_reason, failed.error) == (3, "exit_code", "bad\n")
    assert orch.task_history("demo", failing.task_id)[-1].reason == "exit code 3: bad"
    timed_out = orch.get_task_meta("demo", slow.task_id)
    assert timed_out.termination_reason == "timeout"


def test_the_log_can_be_tailed_while_the_task_runs(project, make_worker, until, status):
    task = orch.task_new("demo", payload="echo first; sleep 30")
    make_worker(start=True)
    until(lambda: "first" in orch.read_task_log("demo", task.task_id).text)
    chunk = orch.read_task_log("demo", task.task_id)
    assert status(task) == "running" and chunk.next_offset == len("first\n")
    later = orch.read_task_log("demo", task.task_id, offset=chunk.next_offset)
    assert later.text == "" and later.eof
    orch.task_stop("demo", task.task_id, timeout=0)


def _group_alive(pgid: int) -> bool:
    return bool(recovery.group_pids(pgid))


def test_stop_kills_a_term_ignoring_group_after_the_grace(project, make_worker, until, status):
    # The command, started next to a plain child so the group has several members.
    task = orch.task_new("demo", payload="""sleep 303 & bash -c 'trap "" TERM; sleep 300'""")
    make_worker(start=True)
    until(lambda: status(task) == "running")
    run = until(lambda: (r := records.get_run(orch.current().store.db, task.run_id))["pgid"] and r)
    until(lambda: len(recovery.group_pids(run["pgid"])) == 3)  # bash, sleep 303, sleep 300
    started = time.monotonic()
    orch.task_stop("demo", task.task_id, timeout=1.0, actor="carol")
    until(lambda: status(task) == "cancelled", timeout=15)
    took = time.monotonic() - started
    assert 0.9 <= took < 10, took  # SIGKILL after the 1 s grace, not never (sleep 300)
    meta = orch.get_task_meta("demo", task.task_id)
    assert meta.stop_requested_by == "carol" and meta.error == "stopped by carol"
    last = orch.task_history("demo", task.task_id)[-1]
    assert (last.actor, last.to_status, last.reason) == ("carol", "cancelled", "stopped by carol")
    until(lambda: not _group_alive(run["pgid"]), timeout=15)


def test_a_stop_between_claim_and_start_cancels_cleanly(project, make_worker):
    task = orch.task_new("demo", payload="sleep 30")
    worker = make_worker()
    worker.register()
    [row] = workers.claim_runs(orch.current().store.db, worker.id, 1, derive=derive_status)
    orch.task_stop("demo", task.task_id, actor="dave")  # running in the database, not started
    run = worker._prepare(row, {"shutdown_grace": 1.0})
    worker._running[row["run_id"]] = run
    worker._handle_stop_requests()
    worker._execute(run)
    meta = orch.get_task_meta("demo", task.task_id)
    assert (meta.status, meta.stop_requested_by, meta.error) == (
        "cancelled",
        "dave",
        "stopped by dave",
    )
    assert not worker._running and worker.executor.persistence_errors == []


def test_project_and_global_limits_are_honoured(settings, make_worker, until):
    orch.project_create("one", max_concurrent=1)
    orch.project_create("two")
    tasks = [orch.task_new("one", payload="sleep 30") for _ in range(3)]
    tasks += [orch.task_new("two", payload="sleep 30") for _ in range(5)]
    worker = make_worker(threads=4)
    worker.run_once()  # oldest first, skipping project "one" once it has its one
    running = orch.counts_by_status("one")["running"], orch.counts_by_status("two")["running"]
    assert running == (1, 3)
    limited = orch.Settings.for_data_dir(settings.data_dir, max_concurrent_tasks=5)
    other = make_worker(threads=6, target=limited)
    with orch.bind(limited):
        assert other.run_once() == 1  # 4 running + 1 = the global limit of 5
    assert orch.counts_by_status()["running"] == 5
    for task in tasks:
        meta = orch.get_task_meta(task.project_id, task.task_id)
        if meta.status == "running":
            orch.task_stop(task.project_id, task.task_id, timeout=0)


def test_a_crash_in_one_task_is_contained(project, make_worker, until, status, caplog):
    broken = orch.task_new("demo", payload="echo never")
    fine = orch.task_new("demo", payload="echo fine")
    worker = make_worker(threads=1)
    execute = worker.executor.execute

    def buggy(task, *args, **kwargs):  # an engine bug, injected for one task only
        if task.id == broken.run_id:
            raise RuntimeError("engine bug")
        return execute(task, *args, **kwargs)

    worker.executor.execute = buggy
    worker.start()
    until(lambda: status(broken) == "failed" and status(fine) == "completed")
    assert "the worker failed" in orch.get_task_meta("demo", broken.task_id).error
    assert any("crashed" in r.message and r.exc_info for r in caplog.records)
    assert worker._thread.is_alive()


def test_an_unwritable_log_never_fails_the_task(project, make_worker, until, status, caplog):
    task = orch.task_new("demo", payload="echo lost; exit 4")
    logs_dir = orch.current().tasks_root / "demo" / task.task_id / "logs"
    logs_dir.write_text("a file where the log folder should be")
    make_worker(start=True)
    until(lambda: status(task) == "failed")
    assert orch.get_task_meta("demo", task.task_id).exit_code == 4
    assert any("cannot write the log" in r.message for r in caplog.records)


def test_a_workspace_that_cannot_be_prepared_fails_the_task(settings, make_worker, until, status):
    orch.project_create("git", git_repo=str(settings.data_dir / "no-such-repo.git"))
    task = orch.task_new("git", payload="echo never")
    make_worker(start=True)
    until(lambda: status(task) == "failed")
    meta = orch.get_task_meta("git", task.task_id)
    assert "could not prepare the workspace" in meta.error
    assert "could not prepare the workspace" in orch.read_task_log("git", task.task_id).text


def _git(*args: str, cwd) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_git_workspaces_start_fresh_and_retries_keep_local_work(
    settings, tmp_path, make_worker, until, status
):
    origin = tmp_path / "origin"
    origin.mkdir()
    _git("init", "-q", "-b", "main", cwd=origin)
    (origin / "README").write_text("v1\n")
    _git("add", "README", cwd=origin)
    _git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "v1", cwd=origin)
    orch.project_create("git", git_repo=str(origin))
    task = orch.task_new("git", payload="cat README; echo local >> README")
    worker = make_worker(start=True)
    until(lambda: status(task) == "completed")
    assert orch.read_task_log("git", task.task_id).text.count("v1") >= 1
    assert "+local" in orch.artifacts.task_diff("git", task.task_id)
    orch.task_retry("git", task.task_id)
    until(
        lambda: status(task) == "completed" and orch.get_task_meta("git", task.task_id).run_no == 2
    )
    assert orch.read_task_log("git", task.task_id).text.startswith("v1\nlocal\n")
    assert orch.read_task_log("git", task.task_id, run_no=1).text.startswith("[webapp] workspace")
    assert worker.executor.persistence_errors == []


def test_a_silent_worker_is_reaped_by_a_live_one(project, make_worker, until, status):
    task = orch.task_new("demo", payload="sleep 300")
    silent = make_worker()
    silent.run_once()
    until(lambda: status(task) == "running")
    db = orch.current().store.db  # the next step writes the process record
    run = until(lambda: (r := records.get_run(db, task.run_id))["pgid"] and r, step=silent.run_once)
    reaper = make_worker()
    reaper.register()
    reaper.run_once(now=time.time() + 60)  # the silent one's heartbeat is a minute old now
    meta = orch.get_task_meta("demo", task.task_id)
    assert (meta.status, meta.termination_reason) == ("lost", "lost")
    assert "sent no heartbeat" in meta.error
    until(lambda: not _group_alive(run["pgid"]), timeout=15)
    last = orch.task_history("demo", task.task_id)[-1]
    assert (last.actor, last.from_status, last.to_status) == (reaper.id, "running", "lost")
    until(lambda: not silent._running, timeout=15)  # its own save is refused: still lost
    assert status(task) == "lost" and silent.executor.persistence_errors


def test_a_stopping_worker_ends_its_running_tasks_as_lost(project, make_worker, until, status):
    task = orch.task_new("demo", payload="sleep 300")
    worker = make_worker(start=True)
    until(lambda: status(task) == "running")
    run_id = orch.get_task_meta("demo", task.task_id).run_id
    until(lambda: recovery.run_processes([run_id]))
    assert worker.stop(timeout=15.0)
    meta = orch.get_task_meta("demo", task.task_id)
    assert (meta.status, meta.error) == ("lost", "the server stopped while it ran")
    assert not recovery.run_processes([run_id])  # no process of the run is left
    last = orch.task_history("demo", task.task_id)[-1]
    assert (last.actor, last.to_status, last.reason) == (
        worker.id,
        "lost",
        "the server stopped while it ran",
    )
    log = orch.tail_task_log("demo", task.task_id, lines=1)
    assert log.text.endswith("the server stopped while it ran; the task was lost\n")
    db = orch.current().store.db
    assert db.execute("SELECT stopped_at FROM workers WHERE id = ?", [worker.id]).fetchone()[0]
    make_worker().recover()  # the next start finds nothing left to reap
    assert orch.task_history("demo", task.task_id)[-1] == last


def test_the_worker_finishes_deletes_left_to_it(project, settings, make_worker, until):
    task = orch.task_new("demo", payload="echo bye")
    worker = make_worker(start=True)
    until(lambda: orch.get_task_meta("demo", task.task_id).status == "completed")
    orch.mark_task_deleting("demo", task.task_id, actor="erin")
    assert orch.get_task_meta("demo", task.task_id).status == "deleting"
    until(lambda: not orch.task_list("demo").total, timeout=15)
    [archived] = orch.list_archived_tasks("demo")
    assert archived.task_id == task.task_id and archived.status == "completed"
    path = orch.task_archive_logs("demo", task.task_id)
    assert path.read_text().startswith("bye\n")
    live_like = orch.read_archived_log("demo", archived.archive_id[:12])
    assert live_like.segments[0] == ("stdout", "bye\n") and live_like.eof
    assert (
        orch.artifacts.tail_archived_log("demo", task.task_id, lines=1).segments[0][0] == "system"
    )
    assert worker.executor.persistence_errors == []


def test_retention_keeps_the_newest_archives(tmp_path, make_worker):
    limited = orch.Settings.for_data_dir(tmp_path / "kept", archive_keep_last=1)
    with orch.bind(limited):
        orch.project_create("demo")
        for _ in range(3):
            task = orch.task_new("demo", payload="true")
            orch.task_delete("demo", task.task_id)
        assert len(orch.list_archived_tasks("demo")) == 3
        make_worker(target=limited).recover()
        assert [a.task_id for a in orch.list_archived_tasks("demo")] == [task.task_id]
    limited.store.close()


def test_heartbeats_are_recorded(project, make_worker):
    worker = make_worker()
    worker.register()
    db = orch.current().store.db
    first = db.execute("SELECT heartbeat_at FROM workers WHERE id = ?", [worker.id]).fetchone()[0]
    worker.run_once(now=first + 10)
    beat = db.execute("SELECT heartbeat_at FROM workers WHERE id = ?", [worker.id]).fetchone()[0]
    assert beat == pytest.approx(first + 10)
    assert (
        os.getpid() == db.execute("SELECT pid FROM workers WHERE id = ?", [worker.id]).fetchone()[0]
    )


def test_the_app_starts_its_own_worker_when_enabled(tmp_path, until):
    from webapp import create_app

    app = create_app({
        "TESTING": True, "DATA_DIR": str(tmp_path / "app"), "SECRET_KEY": "x",
        "WORKER_ENABLED": True, "WORKER_POLL_INTERVAL": 0.05, "CREATE_FIRST_ADMIN": False,
    })  # fmt: skip
    worker = app.extensions["webapp.worker"]
    try:
        with orch.bind(orch.settings_of(app)):
            orch.project_create("demo")
            task = orch.task_new("demo", payload="echo served")
            until(lambda: orch.get_task_meta("demo", task.task_id).status == "completed")
    finally:
        assert worker.stop(timeout=15)
    off = {"TESTING": True, "DATA_DIR": str(tmp_path / "off"), "SECRET_KEY": "x"}
    assert "webapp.worker" not in create_app({**off, "WORKER_ENABLED": False}).extensions
