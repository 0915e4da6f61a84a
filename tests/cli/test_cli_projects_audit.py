"""``webapp project edit|delete`` and the audit log of what the CLI changes."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from webapp import orchestration
from webapp.accounts import audit
from webapp.cli import main


@pytest.fixture
def shell(app, monkeypatch):
    """``shell(*args)``: run ``webapp ...`` on the test app's data folder."""
    data = app.config["DATA_DIR"]
    monkeypatch.setenv("WEBAPP_DATA_DIR", data)
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    runner = CliRunner()

    def run(*args: str, ok: bool = True, stdin: str | None = None):
        result = runner.invoke(main, [*args, "--data-dir", data], input=stdin)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def entries(db) -> list[tuple[str, str, str, str]]:
    page = audit.query(db, limit=100)
    return [(e.actor, e.action, e.target, e.address) for e in reversed(page.items)]


def test_cli_changes_appear_in_the_audit_page(shell, admin_client, accounts_db):
    shell("project", "create", "demo")
    out = shell("task", "new", "demo", "--name", "hello", "--", "echo", "hi").output
    task_id = re.search(r"Created task (\w{5})", out).group(1)
    shell("user", "create", "alice", "--role", "operator")
    shell("task", "rename", "demo", task_id, "greeting")
    assert [e for e in entries(accounts_db) if e[0] == "cli:ops"] == [
        ("cli:ops", "project.create", "demo", "shell"),
        ("cli:ops", "task.create", f"demo/{task_id}", "shell"),
        ("cli:ops", "user.create", "alice", "shell"),
        ("cli:ops", "task.rename", f"demo/{task_id}", "shell"),
    ]
    page = admin_client.get("/admin/audit?user=cli:ops").get_data(as_text=True)
    for readable in ("created project", "created task", "created user", "renamed task"):
        assert readable in page
    assert f'href="/projects/demo/tasks/{task_id}"' in page
    assert 'href="/projects/demo"' in page


def test_project_edit_changes_only_what_is_given(shell, bound, accounts_db):
    shell("project", "create", "demo", "--env", "KEEP=1", "--env", "DROP=2")
    out = shell("project", "edit", "demo", "--grace", "3", "--env", "NEW=x", "--unset-env", "DROP")
    assert "changed shutdown_grace, env" in out.output
    project = orchestration.project_get("demo")
    assert (project.shutdown_grace, project.env) == (3.0, {"KEEP": "1", "NEW": "x"})
    assert entries(accounts_db)[-1][:3] == ("cli:ops", "project.update", "demo")
    shell("project", "edit", "demo", "--max-concurrent", "2")
    assert orchestration.project_get("demo").max_concurrent == 2
    shell("project", "edit", "demo", "--max-concurrent", "0")
    assert orchestration.project_get("demo").max_concurrent is None
    nothing = shell("project", "edit", "demo", ok=False)
    assert nothing.exit_code == 2 and "Nothing to change" in nothing.output
    bad = shell("project", "edit", "demo", "--grace", "-1", ok=False)
    assert bad.exit_code == 1 and "shutdown_grace" in bad.output


def test_project_delete_asks_names_the_count_and_archives(shell, bound, accounts_db):
    shell("project", "create", "demo")
    out = shell("task", "new", "demo", "--", "true").output
    task_id = re.search(r"Created task (\w{5})", out).group(1)
    busy = shell("project", "delete", "demo", "--yes", ok=False)
    assert busy.exit_code == 1 and task_id in busy.output and "stop or cancel" in busy.output
    shell("task", "stop", "demo", task_id)
    declined = shell("project", "delete", "demo", stdin="n\n", ok=False)
    assert "Archive 1 task(s) and delete project demo?" in declined.output
    assert declined.exit_code == 1 and orchestration.project_get("demo").total == 1
    done = shell("project", "delete", "demo", stdin="y\n")
    assert "Deleted project demo; 1 task(s) archived" in done.output
    assert orchestration.project_list() == []
    assert entries(accounts_db)[-1][:3] == ("cli:ops", "project.delete", "demo")
    assert [a.task_id for a in orchestration.list_archived_tasks("demo")] == [task_id]
