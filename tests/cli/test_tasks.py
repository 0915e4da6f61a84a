"""``webapp project|task|archive|worker``: terok's verbs, ID prefixes and the slash form."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from webapp.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    data = tmp_path / "cli-data"
    monkeypatch.setenv("WEBAPP_DATA_DIR", str(data))  # restored after the test
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, [*args, "--data-dir", str(data)])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def _new(cli, *payload: str, name: str | None = None) -> str:
    args = ["task", "new", "demo", *payload] + (["--name", name] if name else [])
    out = cli(*args).output
    return re.search(r"Created task (\w{5}) ", out).group(1)


def test_the_whole_lifecycle_from_a_shell(cli):
    assert "Created project demo" in cli("project", "create", "demo", "--grace", "1").output
    task_id = _new(cli, "echo", "from-the-cli", name="First Task")
    listed = cli("task", "list", "demo").output
    assert task_id in listed and "queued" in listed and "first-task" in listed
    status = cli("task", "status", f"demo/{task_id[:3].upper()}").output
    assert f"Task {task_id} (first-task) in demo: queued" in status
    assert "created" in status
    assert (
        f"Renamed task {task_id} to renamed"
        in cli("task", "rename", "demo", task_id, "renamed").output
    )
    assert "cancelled" in cli("task", "stop", f"demo/{task_id}").output
    assert "Queued run 2" in cli("task", "retry", "demo", task_id[:4]).output

    done = cli("worker", "--threads", "2", "--exit-when-idle")
    assert done.exit_code == 0
    assert cli("task", "logs", f"demo/{task_id}").output.startswith("from-the-cli\n")
    assert cli("task", "logs", f"demo/{task_id}", "--tail", "1").output.startswith(
        "[webapp] exited"
    )
    assert "completed" in cli("task", "list", "demo", "--status", "completed").output

    deleted = cli("task", "delete", f"demo/{task_id}").output
    assert f"Deleted task {task_id}. Archive: webapp archive list demo" in deleted
    archived = cli("archive", "list", "demo").output
    assert f"#{task_id}: renamed [status=completed; exit=0]" in archived
    assert cli("archive", "logs", "demo", task_id).output.startswith("from-the-cli\n")
    assert "No tasks found" in cli("task", "list", "demo").output


def test_prefix_errors_are_actionable(cli):
    cli("project", "create", "demo")
    ids = [_new(cli, "true") for _ in range(20)]
    heads = [i[0] for i in ids]
    shared = next(h for h in heads if heads.count(h) > 1)
    ambiguous = cli("task", "status", "demo", shared, ok=False)
    assert ambiguous.exit_code == 1 and "Ambiguous task ID" in ambiguous.output
    assert ", ".join(sorted(i for i in ids if i[0] == shared)) in ambiguous.output
    invalid = cli("task", "status", "demo", "O1234", ok=False)
    assert "never start with I, L, or O" in invalid.output
    missing = cli("task", "status", "demo", ok=False)
    assert "Missing task ID" in missing.output and "webapp task list demo" in missing.output
    unknown = cli("task", "status", "nope/k1", ok=False)
    assert "No project 'nope'" in unknown.output
    bad = cli("task", "new", "demo", "true", "--name", "-x", ok=False)
    assert "must not start with a hyphen" in bad.output


def test_projects_from_the_shell(cli):
    cli("project", "create", "ops", "--max-concurrent", "2", "--env", "REGION=eu")
    assert "ops  ops  (no tasks)" in cli("project", "list").output
    bad = cli("project", "create", "ops", ok=False)
    assert "already exists" in bad.output
    env = cli("project", "create", "x", "--env", "NOEQUALS", ok=False)
    assert "NAME=VALUE" in env.output
