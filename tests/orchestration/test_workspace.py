"""Workspaces with real git: layout, the new-task marker protocol, diffs, safety switches."""

from __future__ import annotations

import socket
import stat
import subprocess

import pytest

from webapp.orchestration.errors import UnsafePath, WorkspaceError
from webapp.orchestration.workspace import (
    NEW_TASK_MARKER,
    create_workspace,
    get_workspace_git_diff,
    has_new_task_marker,
    prepare_workspace,
    remove_task_dir,
    workspace_path,
)

IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]


def git(cwd, *args) -> str:
    result = subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


@pytest.fixture
def remote(tmp_path):
    """A bare repository with one commit on ``main``, and a clone to push more from."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "--quiet", str(bare), str(seed))
    git(seed, "checkout", "--quiet", "-b", "main")
    (seed / "app.py").write_text("print('v1')\n")
    git(seed, "add", "app.py")
    git(seed, "commit", "--quiet", "-m", "first")
    git(seed, "push", "--quiet", "origin", "main")
    return bare, seed


def push_commit(seed, filename, content, message):
    (seed / filename).write_text(content)
    git(seed, "add", filename)
    git(seed, "commit", "--quiet", "-m", message)
    git(seed, "push", "--quiet", "origin", "main")
    return git(seed, "rev-parse", "HEAD")


@pytest.fixture
def tasks_root(tmp_path):
    return tmp_path / "tasks"


def test_layout_mode_and_marker(tasks_root):
    workspace = create_workspace(tasks_root, "demo", "k3v8h")
    assert workspace == tasks_root / "demo" / "k3v8h" / "workspace"
    assert workspace == workspace_path(tasks_root, "demo", "k3v8h")
    assert stat.S_IMODE(workspace.stat().st_mode) == 0o700
    assert has_new_task_marker(workspace)
    retried = create_workspace(tasks_root, "demo", "m4abc", new_task=False)
    assert not has_new_task_marker(retried)


@pytest.mark.parametrize(("project", "task"), [("..", "k3v8h"), ("demo", ".."), ("demo", "a/b")])
def test_ids_are_checked_before_becoming_paths(tasks_root, project, task):
    with pytest.raises(UnsafePath):
        create_workspace(tasks_root, project, task)
    with pytest.raises(UnsafePath):
        remove_task_dir(tasks_root, project, task)
    assert not tasks_root.exists()


def test_new_task_clones_the_latest_commit_and_drops_the_marker(tasks_root, remote):
    bare, seed = remote
    head = push_commit(seed, "app.py", "print('v2')\n", "second")
    workspace = create_workspace(tasks_root, "demo", "k3v8h")
    assert prepare_workspace(workspace, str(bare)) == "cloned"
    assert (workspace / "app.py").read_text() == "print('v2')\n"
    assert git(workspace, "rev-parse", "HEAD") == head
    assert git(workspace, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(workspace, "rev-parse", "--abbrev-ref", "@{upstream}") == "origin/main"
    assert not has_new_task_marker(workspace)
    assert git(workspace, "status", "--porcelain") == ""


def test_retried_task_fetches_but_keeps_local_work(tasks_root, remote):
    bare, seed = remote
    workspace = create_workspace(tasks_root, "demo", "k3v8h")
    prepare_workspace(workspace, str(bare))
    first = git(workspace, "rev-parse", "HEAD")
    (workspace / "app.py").write_text("print('local edit')\n")
    (workspace / "notes.txt").write_text("untracked work\n")
    second = push_commit(seed, "app.py", "print('v2')\n", "second")

    assert prepare_workspace(workspace, str(bare)) == "fetched"
    assert (workspace / "app.py").read_text() == "print('local edit')\n"
    assert (workspace / "notes.txt").exists()
    assert git(workspace, "rev-parse", "HEAD") == first
    assert git(workspace, "rev-parse", "origin/main") == second


def test_marker_on_a_stale_workspace_resets_hard_to_the_remote(tasks_root, remote):
    bare, seed = remote
    workspace = create_workspace(tasks_root, "demo", "k3v8h")
    prepare_workspace(workspace, str(bare))
    (workspace / "app.py").write_text("print('stale edit')\n")
    (workspace / "leftover.txt").write_text("from a deleted task\n")
    git(workspace, "checkout", "--quiet", "-b", "old-work")
    second = push_commit(seed, "lib.py", "X = 1\n", "second")

    create_workspace(tasks_root, "demo", "k3v8h")  # a new task with a reused ID
    assert prepare_workspace(workspace, str(bare)) == "reset"
    assert git(workspace, "rev-parse", "HEAD") == second
    assert git(workspace, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert (workspace / "app.py").read_text() == "print('v1')\n"
    assert (workspace / "lib.py").exists()
    assert not (workspace / "leftover.txt").exists()
    assert not has_new_task_marker(workspace)


def test_hooks_in_the_workspace_never_run(tasks_root, remote):
    bare, seed = remote
    workspace = create_workspace(tasks_root, "demo", "k3v8h")
    prepare_workspace(workspace, str(bare))
    proof = tasks_root / "hook-ran"
    hook = workspace / ".git" / "hooks" / "post-checkout"
    hook.write_text(f"#!/bin/sh\ntouch '{proof}'\n")
    hook.chmod(0o755)
    push_commit(seed, "app.py", "print('v2')\n", "second")
    (workspace / NEW_TASK_MARKER).write_text("")
    assert prepare_workspace(workspace, str(bare)) == "reset"
    assert (workspace / "app.py").read_text() == "print('v2')\n"  # the checkout happened
    assert not proof.exists()


def test_diff_against_head_and_previous_commit(tasks_root, remote):
    bare, seed = remote
    push_commit(seed, "lib.py", "X = 1\n", "second")
    workspace = create_workspace(tasks_root, "demo", "k3v8h")
    prepare_workspace(workspace, str(bare))
    assert get_workspace_git_diff(workspace) == ""
    (workspace / "app.py").write_text("print('changed ✓')\n")
    diff = get_workspace_git_diff(workspace)
    assert "-print('v1')" in diff and "+print('changed ✓')" in diff
    assert "lib.py" not in diff
    previous = get_workspace_git_diff(workspace, "HEAD~1")
    assert "+X = 1" in previous and "+print('changed ✓')" in previous
    cut = get_workspace_git_diff(workspace, "HEAD~1", max_bytes=50)
    assert cut.endswith("[webapp] diff truncated at 50 bytes\n")


def test_diff_errors_and_non_git_workspaces(tasks_root, remote):
    bare, _ = remote
    plain = create_workspace(tasks_root, "demo", "g1abc")
    assert get_workspace_git_diff(plain) is None
    workspace = create_workspace(tasks_root, "demo", "k3v8h")
    prepare_workspace(workspace, str(bare))
    with pytest.raises(WorkspaceError, match="git diff failed"):
        get_workspace_git_diff(workspace, "HEAD~5")
    for bad in ("--output=/tmp/pwned", "HEAD..main", "HEAD;rm", ""):
        with pytest.raises(WorkspaceError, match="Invalid revision"):
            get_workspace_git_diff(workspace, bad)


def test_project_without_repository_and_empty_remote(tasks_root, tmp_path):
    workspace = create_workspace(tasks_root, "demo", "k3v8h")
    assert prepare_workspace(workspace, None) == "none"
    assert has_new_task_marker(workspace)  # nothing to reset: the marker is left alone
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "--quiet", "--bare", str(empty))
    assert prepare_workspace(workspace, str(empty)) == "empty"
    assert not has_new_task_marker(workspace)
    assert (workspace / ".git").is_dir()


def test_refuses_to_clone_over_untracked_files_without_marker(tasks_root, remote):
    bare, _ = remote
    workspace = create_workspace(tasks_root, "demo", "k3v8h", new_task=False)
    (workspace / "precious.txt").write_text("keep me\n")
    with pytest.raises(WorkspaceError, match="not cloning over them"):
        prepare_workspace(workspace, str(bare))
    assert (workspace / "precious.txt").read_text() == "keep me\n"


def test_bad_repositories_give_clear_errors(tasks_root, tmp_path):
    workspace = create_workspace(tasks_root, "demo", "k3v8h")
    with pytest.raises(WorkspaceError, match="looks like an option"):
        prepare_workspace(workspace, "--upload-pack=touch /tmp/x")
    with pytest.raises(WorkspaceError, match="git fetch failed"):
        prepare_workspace(workspace, str(tmp_path / "no-such-repo.git"))
    assert has_new_task_marker(workspace)  # a failed prepare can be retried


def test_a_hanging_remote_times_out(tasks_root):
    # The kernel completes git's connection from the listen backlog; nothing ever accepts
    # or answers it, so git hangs until the timeout. (No accepting thread: a connection it
    # accepted after the test ended was an unclosed socket, warned about in a later test.)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        workspace = create_workspace(tasks_root, "demo", "k3v8h")
        url = f"git://127.0.0.1:{server.getsockname()[1]}/repo.git"
        with pytest.raises(WorkspaceError, match="timed out after 1 s"):
            prepare_workspace(workspace, url, timeout=1)  # ~1 s: the timeout under test


def test_remove_task_dir(tasks_root):
    create_workspace(tasks_root, "demo", "k3v8h")
    assert remove_task_dir(tasks_root, "demo", "k3v8h")
    assert not (tasks_root / "demo" / "k3v8h").exists()
    assert not remove_task_dir(tasks_root, "demo", "k3v8h")
