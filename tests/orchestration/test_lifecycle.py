"""The task lifecycle: new, rename, stop (queued), retry, exit codes, transitions, versions."""

from __future__ import annotations

import re
import threading

import pytest

from webapp import orchestration as orch
from webapp.orchestration import status as status_rules


def test_new_task_is_queued_with_a_generated_name_and_a_created_transition(project):
    task = orch.task_new("demo", payload="echo hi", actor="alice")
    assert orch.is_task_id(task.task_id)
    assert task.status == "queued" and task.engine_status == "pending"
    assert re.fullmatch(r"[a-z0-9_]+(-[a-z0-9_]+)+", task.name), task.name
    assert (task.type, task.payload, task.created_by, task.run_no) == (
        "bash",
        "echo hi",
        "alice",
        1,
    )
    [created] = orch.task_history("demo", task.task_id)
    assert (created.actor, created.from_status, created.to_status) == ("alice", None, "queued")
    assert orch.project_get("demo").counts["queued"] == 1


def test_new_task_validates_its_definition(project):
    with pytest.raises(orch.errors.InvalidTaskRequest, match="Unknown task type 'perl'"):
        orch.task_new("demo", type="perl", payload="x")
    with pytest.raises(orch.errors.InvalidTaskRequest, match="payload must not be empty"):
        orch.task_new("demo", payload="   ")
    with pytest.raises(orch.errors.InvalidTaskRequest, match="timeout"):
        orch.task_new("demo", payload="true", timeout=0)
    with pytest.raises(orch.errors.ProjectNotFound, match="nope"):
        orch.task_new("nope", payload="true")
    assert orch.task_list("demo").total == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Fix Login Bug", "fix-login-bug"),
        ("Ünïcödé tëst", "ncd-tst"),
        ("a" * 59 + " b", "a" * 59),  # cut at 60, then the trailing hyphen goes too
        ("x" * 61, "x" * 60),
        ("tabs\tare\tdeleted", "tabsaredeleted"),
        ("__", "__"),
    ],
)
def test_names_are_sanitized(project, raw, expected):
    task = orch.task_new("demo", name=raw, payload="true")
    assert task.name == expected
    assert len(task.name) <= orch.TASK_NAME_MAX_LEN and not task.name.endswith("-")


@pytest.mark.parametrize(
    ("raw", "message"),
    [("!!!", "at least one of a-z"), ("-flag", "must not start with a hyphen"), ("ÄÖÜ", "a-z")],
)
def test_unusable_names_are_refused_with_the_reason(project, raw, message):
    with pytest.raises(orch.errors.InvalidTaskName, match=message):
        orch.task_new("demo", name=raw, payload="true")
    with pytest.raises(orch.errors.InvalidTaskName, match=message):
        orch.task_rename("demo", orch.task_new("demo", payload="true").task_id, raw)


def test_generated_names_use_the_project_categories(settings):
    orch.project_create("zoo", name_categories=["animals"])
    names = {orch.task_new("zoo", payload="true").name for _ in range(5)}
    assert len(names) >= 2  # random, not a constant


def test_task_ids_are_unique_and_resolve_from_prefixes(project):
    ids = [orch.task_new("demo", payload="true").task_id for _ in range(40)]
    assert len(set(ids)) == 40
    some = ids[0]
    assert orch.resolve_task_id("demo", some) == some
    assert orch.resolve_task_id("demo", some.upper()) == some
    assert orch.resolve_task_id("demo", f"{some[:2]}-{some[2:]}".upper()) == some
    assert orch.resolve_task_ref(f"demo/{some}") == ("demo", some)
    heads = {}
    for task_id in ids:
        heads.setdefault(task_id[0], []).append(task_id)
    shared = next(head for head, members in heads.items() if len(members) > 1)
    with pytest.raises(orch.errors.AmbiguousTaskId) as ambiguous:
        orch.resolve_task_id("demo", shared)
    assert ambiguous.value.matches == sorted(heads[shared])
    assert ", ".join(sorted(heads[shared])) in str(ambiguous.value)
    unused = next(h for h in "ghjkmnpqrstvwxyz" if h not in heads) if len(heads) < 16 else None
    missing = unused or f"{some[:4]}{'0' if some[4] != '0' else '1'}"
    with pytest.raises(orch.errors.TaskNotFound, match="No task matching"):
        orch.resolve_task_id("demo", missing)
    with pytest.raises(orch.errors.InvalidTaskId, match="never start with I, L, or O"):
        orch.resolve_task_id("demo", "l3abc")
    with pytest.raises(orch.errors.InvalidTaskId, match="expected 1-5 Crockford chars"):
        orch.resolve_task_id("demo", "abc")
    with pytest.raises(orch.MissingTaskId, match="Missing task ID"):
        orch.resolve_task_id("demo", "")


def test_crockford_substitutions_apply_after_the_head(project):
    task = orch.task_new("demo", payload="true")
    typed = task.task_id[0] + task.task_id[1:].replace("1", "L").replace("0", "O")
    assert orch.resolve_task_id("demo", typed) == task.task_id


def test_a_project_without_tasks_says_so(project):
    with pytest.raises(orch.errors.TaskNotFound, match="No tasks found for project demo"):
        orch.resolve_task_id("demo", "k3")


def test_slash_form_rejects_unsafe_parts(project):
    with pytest.raises(orch.errors.InvalidSlashForm):
        orch.resolve_task_ref("../etc/k3v8h")
    with pytest.raises(orch.errors.InvalidSlashForm, match="Which project"):
        orch.resolve_task_ref("k3v8h")


def test_rename_records_who_and_keeps_the_status(project):
    task = orch.task_new("demo", name="first", payload="true")
    renamed = orch.task_rename("demo", task.task_id, "Second Name", actor="bob")
    assert renamed.name == "second-name" and renamed.status == "queued"
    last = orch.task_history("demo", task.task_id)[-1]
    assert (last.actor, last.reason) == ("bob", "renamed first -> second-name")
    with pytest.raises(orch.errors.TaskNotFound):
        orch.task_rename("demo", "k0000", "x")


def test_stopping_a_queued_task_cancels_it_now(project):
    task = orch.task_new("demo", payload="sleep 100")
    stopped = orch.task_stop("demo", task.task_id, actor="carol")
    assert stopped.status == "cancelled" and stopped.stop_requested_by == "carol"
    last = orch.task_history("demo", task.task_id)[-1]
    assert (last.actor, last.from_status, last.to_status) == ("carol", "queued", "cancelled")
    with pytest.raises(orch.errors.TaskStateConflict, match="only queued or running"):
        orch.task_stop("demo", task.task_id, actor="carol")


def test_retry_adds_a_run_and_keeps_the_earlier_ones(project):
    task = orch.task_new("demo", payload="echo again")
    with pytest.raises(orch.errors.TaskStateConflict, match="only finished tasks"):
        orch.task_retry("demo", task.task_id)
    orch.task_stop("demo", task.task_id, actor="carol")
    retried = orch.task_retry("demo", task.task_id, actor="dave")
    assert (retried.status, retried.run_no, retried.payload) == ("queued", 2, "echo again")
    runs = orch.task_runs("demo", task.task_id)
    assert [(r.run_no, r.status) for r in runs] == [(1, "cancelled"), (2, "pending")]
    assert runs[0].run_id != runs[1].run_id == retried.run_id
    last = orch.task_history("demo", task.task_id)[-1]
    assert (last.actor, last.from_status, last.to_status, last.run_no) == (
        "dave", "cancelled", "queued", 2,
    )  # fmt: skip


def test_update_task_exit_code_sets_it_and_ignores_missing_tasks(project):
    task = orch.task_new("demo", payload="true")
    orch.update_task_exit_code("demo", task.task_id, 124)
    assert orch.get_task_meta("demo", task.task_id).exit_code == 124
    orch.update_task_exit_code("demo", "k0000", 1)  # no error, like seed 000


def test_versions_move_with_every_change(project):
    before = orch.project_version("demo")
    task = orch.task_new("demo", payload="true")
    v1 = orch.task_version("demo", task.task_id)
    assert orch.project_version("demo") > before
    orch.task_rename("demo", task.task_id, "other")
    assert orch.task_version("demo", task.task_id) > v1
    assert (
        orch.task_version("demo", task.task_id) == orch.get_task_meta("demo", task.task_id).version
    )


@pytest.mark.parametrize(
    ("engine", "deleting", "reason", "shown"),
    [
        ("pending", False, None, "queued"),
        ("running", False, None, "running"),
        ("done", False, None, "completed"),
        ("failed", False, "exit_code", "failed"),
        ("failed", False, "lost", "lost"),
        ("cancelled", False, "cancelled", "cancelled"),
        ("blocked", False, None, "blocked"),
        ("running", True, None, "deleting"),
        ("failed", True, "lost", "deleting"),
    ],
)
def test_the_ui_status_is_derived_in_one_place(engine, deleting, reason, shown):
    derived = status_rules.derive_status(engine, deleting=deleting, termination_reason=reason)
    assert derived == shown


def test_unknown_engine_status_is_an_error():
    with pytest.raises(ValueError, match="unknown engine status"):
        status_rules.derive_status("paused")


def test_nothing_works_unbound():
    errors = []

    def call() -> None:  # a new thread starts with nothing bound
        try:
            orch.task_list("demo")
        except orch.errors.NotBound as error:
            errors.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    assert errors and "bind" in str(errors[0])
