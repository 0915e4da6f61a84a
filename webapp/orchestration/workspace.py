"""Per-task working directories and their git checkouts (the new-task marker protocol).

Layout: ``<root>/<project_id>/<task_id>/workspace`` (mode 0700). A new task writes
``.new-task-marker`` in its workspace. ``prepare_workspace`` then clones the project's
repository when there is no ``.git`` yet, or, with the marker present, fetches and resets
hard to the remote's default branch; either way it removes the marker last. Without the
marker (a retried task) it only fetches, so local work is kept.

git runs without a shell, with a timeout, in its own process group (killed whole on
timeout), with hooks, fsmonitor, external diff drivers and the ``ext::`` transport disabled,
and never prompts for credentials. Tasks run as the server's own user, so a workspace's
``.git/config`` is as trusted as the task that wrote it; these switches are defence in depth.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from webapp.orchestration.errors import WorkspaceError
from webapp.orchestration.paths import safe_join, safe_segment

NEW_TASK_MARKER = ".new-task-marker"
WORKSPACE_DIR = "workspace"
GIT_TIMEOUT = 120.0
DIFF_MAX_BYTES = 5 * 1024 * 1024
_MARKER_TEXT = (
    "webapp: this task is new. Preparing the workspace resets it to the latest commit of\n"
    "the remote's default branch and then removes this file.\n"
)
_SAFE_REV = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./~^@{}-]*")
_GIT_SAFETY = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "protocol.ext.allow=never",
    "-c", "core.pager=cat",
)  # fmt: skip


def task_dir(root: str | os.PathLike[str], project_id: str, task_id: str) -> Path:
    """``<root>/<project_id>/<task_id>``, both IDs checked against traversal."""
    safe_segment(project_id, "project id")
    return safe_join(root, project_id, task_id, what="task id")


def workspace_path(root: str | os.PathLike[str], project_id: str, task_id: str) -> Path:
    return task_dir(root, project_id, task_id) / WORKSPACE_DIR


def create_workspace(
    root: str | os.PathLike[str], project_id: str, task_id: str, *, new_task: bool = True
) -> Path:
    """Create the task's workspace (mode 0700); a new task also gets the marker."""
    workspace = workspace_path(root, project_id, task_id)
    workspace.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(workspace, 0o700)  # mkdir's mode is masked by the umask
    if new_task:
        (workspace / NEW_TASK_MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
    return workspace


def remove_task_dir(root: str | os.PathLike[str], project_id: str, task_id: str) -> bool:
    """Delete the whole task directory; True when something was removed."""
    path = task_dir(root, project_id, task_id)
    if path.is_symlink():
        path.unlink()
        return True
    if not path.exists():
        return False
    shutil.rmtree(path)
    return True


def has_new_task_marker(workspace: str | os.PathLike[str]) -> bool:
    return (Path(workspace) / NEW_TASK_MARKER).is_file()


def is_git_workspace(workspace: str | os.PathLike[str]) -> bool:
    return (Path(workspace) / ".git").is_dir()


def _git(
    args: list[str], cwd: Path, *, timeout: float = GIT_TIMEOUT, max_bytes: int | None = None
) -> tuple[str, bool]:
    """Run git; return (stdout, truncated). Raise WorkspaceError on failure or timeout.

    Output goes to temporary files, so a huge diff costs disk, not memory, and the
    timeout holds however much git writes.
    """
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_PAGER": "cat"}
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(name, None)
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(
            ["git", *_GIT_SAFETY, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out_file,
            stderr=err_file,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise WorkspaceError(f"git {args[0]} timed out after {timeout:g} s in {cwd}") from None
        if proc.returncode != 0:
            err_file.seek(0)
            lines = err_file.read(64 * 1024).decode("utf-8", "replace").strip().splitlines()
            detail = lines[-1] if lines else f"exit code {proc.returncode}"
            raise WorkspaceError(f"git {args[0]} failed in {cwd}: {detail}")
        out_file.seek(0)
        out = out_file.read() if max_bytes is None else out_file.read(max_bytes + 1)
    truncated = max_bytes is not None and len(out) > max_bytes
    return out[:max_bytes].decode("utf-8", "replace") if truncated else out.decode(
        "utf-8", "replace"
    ), truncated


def _remote_default_branch(workspace: Path, timeout: float) -> str | None:
    """The branch the remote's HEAD points at, or None for an empty repository."""
    out, _ = _git(["ls-remote", "--symref", "origin", "HEAD"], workspace, timeout=timeout)
    for line in out.splitlines():
        if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
            return line[len("ref: refs/heads/") : -len("\tHEAD")]
    return None


def prepare_workspace(
    workspace: str | os.PathLike[str], repository: str | None, *, timeout: float = GIT_TIMEOUT
) -> str:
    """Bring the workspace's checkout up to date per the marker protocol.

    Returns what happened: ``"none"`` (no repository), ``"cloned"`` (no ``.git`` yet),
    ``"reset"`` (marker present: hard reset to the remote default branch, untracked files
    removed), ``"fetched"`` (no marker: fetch only, local changes kept), or ``"empty"``
    (the remote has no commits yet).
    """
    path = Path(workspace)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not repository:
        return "none"
    if repository.startswith("-"):
        raise WorkspaceError(f"Refusing repository {repository!r}: it looks like an option")
    marker = path / NEW_TASK_MARKER
    fresh = not is_git_workspace(path)
    if fresh:
        if not marker.exists() and any(path.iterdir()):
            raise WorkspaceError(
                f"Workspace {path} has files but no git checkout; not cloning over them"
            )
        _git(["init", "--quiet"], path, timeout=timeout)
        _git(["remote", "add", "origin", repository], path, timeout=timeout)
    elif not marker.exists():
        _git(["fetch", "--quiet", "--prune", "origin"], path, timeout=timeout)
        return "fetched"
    else:
        _git(["remote", "set-url", "origin", repository], path, timeout=timeout)
    _git(["fetch", "--quiet", "--prune", "origin"], path, timeout=timeout)
    branch = _remote_default_branch(path, timeout)
    if branch is None:
        marker.unlink(missing_ok=True)
        return "empty"
    remote_ref = f"refs/remotes/origin/{branch}"
    _git(["symbolic-ref", "refs/remotes/origin/HEAD", remote_ref], path, timeout=timeout)
    _git(["checkout", "--quiet", "--force", "-B", branch, remote_ref], path, timeout=timeout)
    _git(["branch", "--quiet", f"--set-upstream-to=origin/{branch}"], path, timeout=timeout)
    if marker.exists():
        _git(["clean", "-ffdxq", "-e", NEW_TASK_MARKER], path, timeout=timeout)
    marker.unlink(missing_ok=True)
    return "cloned" if fresh else "reset"


def get_workspace_git_diff(
    workspace: str | os.PathLike[str],
    against: str = "HEAD",
    *,
    timeout: float = GIT_TIMEOUT,
    max_bytes: int = DIFF_MAX_BYTES,
) -> str | None:
    """The workspace's diff against ``against`` (e.g. HEAD, HEAD~1), or None if not git.

    Tracked files only (new untracked files are not part of ``git diff``). Output past
    ``max_bytes`` is cut with a note. A revision that does not exist raises WorkspaceError.
    """
    path = Path(workspace)
    if not is_git_workspace(path):
        return None
    if not _SAFE_REV.fullmatch(against) or ".." in against:
        raise WorkspaceError(
            f"Invalid revision {against!r}: expected something like HEAD or HEAD~1"
        )
    args = ["diff", "--no-ext-diff", "--no-textconv", "--no-color", against, "--"]
    text, truncated = _git(args, path, timeout=timeout, max_bytes=max_bytes)
    if truncated:
        text += f"\n[webapp] diff truncated at {max_bytes} bytes\n"
    return text
