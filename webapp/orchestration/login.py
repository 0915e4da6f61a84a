"""Seed 000's ``task_login``: a shell in a task's workspace with the task's environment.

terok execs into the task's container; a task here is a process tree in its workspace, so
the counterpart is a shell started there with the environment its runs get.
"""

from __future__ import annotations

import os
import shutil

from webapp.orchestration import context, workspace
from webapp.orchestration.errors import WorkspaceError
from webapp.orchestration.query import get_task_meta
from webapp.store import records


def _shell() -> str:
    return os.environ.get("SHELL") or shutil.which("bash") or "/bin/sh"


def get_login_command(project_id: str, task_id: str) -> list[str]:
    """The command line that opens a shell in the task's workspace with its environment:
    ``env --chdir=<workspace> <project env> WEBAPP_PROJECT_ID=... WEBAPP_TASK_ID=... <shell>``."""
    meta = get_task_meta(project_id, task_id)
    settings = context.current()
    folder = workspace.task_dir(settings.tasks_root, project_id, meta.task_id)
    cwd = folder / workspace.WORKSPACE_DIR
    if not cwd.is_dir():
        raise WorkspaceError(f"Task {project_id}/{meta.task_id} has no workspace at {cwd}")
    project = records.get_project(settings.store.db, project_id) or {}
    env = {
        **(project.get("env") or {}),
        "WEBAPP_PROJECT_ID": project_id,
        "WEBAPP_TASK_ID": meta.task_id,
        "WEBAPP_RUN_NO": str(meta.run_no),
    }
    return ["env", f"--chdir={cwd}", *(f"{k}={v}" for k, v in env.items()), _shell()]


def task_login(project_id: str, task_id: str) -> None:
    """Replace this process with :func:`get_login_command`'s shell (returns only on error)."""
    command = get_login_command(project_id, task_id)
    os.execvp(command[0], command)
