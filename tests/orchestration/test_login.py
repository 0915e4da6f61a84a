"""Seed 000's task login: ``get_login_command`` and ``webapp task shell PROJECT/ID``."""

from __future__ import annotations

import os
import subprocess
import sys

import webapp.orchestration as orch


def test_login_command_opens_a_shell_in_the_workspace_with_the_task_env(settings, monkeypatch):
    monkeypatch.setenv("SHELL", "/bin/bash")
    orch.project_create("demo", env={"GREETING": "hello there"})
    task = orch.task_new("demo", payload="true")
    command = orch.get_login_command("demo", task.task_id)
    assert command[0] == "env" and command[-1] == "/bin/bash"
    script = 'pwd; echo "$WEBAPP_PROJECT_ID/$WEBAPP_TASK_ID $GREETING"\n'
    done = subprocess.run(command, input=script, capture_output=True, text=True, check=True)
    cwd, env_line = done.stdout.splitlines()
    assert cwd == str(settings.tasks_root / "demo" / task.task_id / "workspace")
    assert env_line == f"demo/{task.task_id} hello there"


def test_webapp_task_shell_runs_that_shell(settings, monkeypatch):
    monkeypatch.setenv("SHELL", "/bin/bash")
    orch.project_create("demo")
    task = orch.task_new("demo", payload="true")
    env = {**os.environ, "WEBAPP_DATA_DIR": str(settings.data_dir)}
    run = [sys.executable, "-m", "webapp.cli", "task", "shell", f"demo/{task.task_id[:4]}"]
    done = subprocess.run(run, input="pwd; echo $WEBAPP_TASK_ID\n", env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        str(settings.tasks_root / "demo" / task.task_id / "workspace"), task.task_id,
    ]  # fmt: skip
    printed = subprocess.run([*run, "--print"], env=env, capture_output=True, text=True,
                             timeout=60)  # fmt: skip
    assert printed.stdout.startswith("env --chdir=") and printed.stdout.strip().endswith("bash")
