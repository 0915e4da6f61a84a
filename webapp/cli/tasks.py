"""``webapp project|task|archive ...`` and ``webapp worker``: terok's verbs for scripting.

A task is named as ``<project>/<task>`` or as two words ``<project> <task>``; the task part
may be any unique prefix of its ID (case, hyphens and I/L/O are forgiven).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterator

import click

from webapp import orchestration as orch
from webapp.cli import audit
from webapp.cli.users import DATA_DIR_OPTION, actor
from webapp.engine import TASK_TYPES
from webapp.store.db import fault_of

ACTOR_OPTION = click.option("--as", "acting_as", help="Who to record as the actor.")


@contextlib.contextmanager
def bound(data_dir: str | None) -> Iterator[orch.Settings]:
    """The installation's settings, bound; orchestration errors become clean CLI errors."""
    from webapp import create_app

    if data_dir:
        os.environ["WEBAPP_DATA_DIR"] = os.path.abspath(data_dir)
    try:
        app = create_app({"WORKER_ENABLED": False, "CREATE_FIRST_ADMIN": False})
        settings = orch.Settings.from_config(app.config)
        with orch.bind(settings):
            yield settings
    except orch.OrchestrationError as error:
        raise click.ClickException(str(error)) from None
    except sqlite3.OperationalError as error:
        fault = fault_of(error)
        if fault is None:
            raise
        where = os.environ.get("WEBAPP_DATA_DIR") or "the data folder"
        raise click.ClickException(f"the database in {where} is {fault} ({error})") from None


def _ref(words: tuple[str, ...], needed: int = 0) -> tuple[str, str, tuple[str, ...]]:
    """(project, full task ID, remaining words) from ``p/t ...`` or ``p t ...``."""
    if not words:
        raise click.UsageError("Name a task: <project>/<task_id> or <project> <task_id>")
    if "/" in words[0]:
        project_id, task_id = orch.resolve_task_ref(words[0])
        return project_id, task_id, words[1:]
    if len(words) < 2 + needed:
        raise orch.MissingTaskId(
            f"Missing task ID — name it as {words[0]}/<task_id> or {words[0]} <task_id>. "
            f"List tasks: webapp task list {words[0]}"
        )
    return words[0], orch.resolve_task_id(words[0], words[1]), words[2:]


def _line(task: orch.TaskMeta) -> str:
    code = "" if task.exit_code is None else f" exit={task.exit_code}"
    return f"{task.task_id}  {task.status:<9} {task.type:<10} {task.name}{code}"


# -- projects ---------------------------------------------------------------------------------
def parse_env_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="--env")
        env[key] = value
    return env


@click.group("project")
def project() -> None:
    """Create, list and configure projects."""


@project.command("create")
@click.argument("project_id")
@click.option("--name")
@click.option("--grace", type=float, default=10.0, show_default=True, help="Stop grace (s).")
@click.option("--max-concurrent", type=int, help="Running tasks of this project at once.")
@click.option("--git-repo", help="Repository cloned into each task's workspace.")
@click.option("--env", "env_pairs", multiple=True, metavar="NAME=VALUE")
@DATA_DIR_OPTION
@ACTOR_OPTION
def project_create(project_id, name, grace, max_concurrent, git_repo, env_pairs, data_dir,
                   acting_as):  # fmt: skip
    """Create a project."""
    env = parse_env_pairs(env_pairs)
    who = acting_as or actor()
    with bound(data_dir):
        created = orch.project_create(
            project_id, name=name, shutdown_grace=grace, max_concurrent=max_concurrent,
            git_repo=git_repo, env=env, actor=who,
        )  # fmt: skip
        audit.record(who, "project.create", created.id, f"name {created.name!r}")
    click.echo(f"Created project {created.id}")


@project.command("list")
@DATA_DIR_OPTION
def project_list(data_dir) -> None:
    """List projects with their task counts."""
    with bound(data_dir):
        for item in orch.project_list():
            busy = ", ".join(f"{n} {s}" for s, n in item.counts.items() if n) or "no tasks"
            click.echo(f"{item.id}  {item.name}  ({busy})")


# -- tasks ------------------------------------------------------------------------------------
@click.group("task")
def task() -> None:
    """Create, inspect, stop, rename, retry and delete tasks."""


@task.command("new")
@click.argument("project_id")
@click.argument("payload", nargs=-1, required=True)
@click.option("--name", help="Default: a generated adjective-noun name.")
@click.option("--type", "kind", default="bash", show_default=True,
              type=click.Choice(TASK_TYPES))  # fmt: skip
@click.option("--timeout", type=float, help="Seconds before the task is killed.")
@click.option("--description", default="")
@DATA_DIR_OPTION
@ACTOR_OPTION
def task_new(project_id, payload, name, kind, timeout, description, data_dir, acting_as):
    """Queue a task; PAYLOAD is the command (or prompt), joined with spaces."""
    who = acting_as or actor()
    with bound(data_dir):
        created = orch.task_new(
            project_id, name=name, type=kind, payload=" ".join(payload), timeout=timeout,
            description=description, actor=who,
        )  # fmt: skip
        audit.record(who, "task.create", created.ref, f"{created.type} task {created.name!r}")
    click.echo(f"Created task {created.task_id} ({created.name}) in project {project_id}")


@task.command("list")
@click.argument("project_id")
@click.option("--status", type=click.Choice(orch.UI_STATUSES))
@click.option("--type", "kind")
@click.option("--search")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--offset", type=int, default=0)
@DATA_DIR_OPTION
def task_list(project_id, status, kind, search, limit, offset, data_dir):
    """List a project's tasks, newest first."""
    with bound(data_dir):
        page = orch.task_list(project_id, status=status, type=kind, search=search, limit=limit,
                              offset=offset)  # fmt: skip
    for item in page.items:
        click.echo(_line(item))
    if not page.items:
        click.echo("No tasks found")
    elif page.has_next:
        click.echo(f"... {page.total - page.offset - len(page.items)} more (use --offset)")


@task.command("status")
@click.argument("words", nargs=-1)
@DATA_DIR_OPTION
def task_status(words, data_dir):
    """Show a task's status and its transitions."""
    with bound(data_dir):
        project_id, task_id, _ = _ref(words)
        meta = orch.task_status(project_id, task_id)
        history = orch.task_history(project_id, task_id)
    click.echo(f"Task {meta.task_id} ({meta.name}) in {meta.project_id}: {meta.status}")
    click.echo(
        f"  type={meta.type} run={meta.run_no} exit={meta.exit_code} payload={meta.payload!r}"
    )
    if meta.status_reason:
        click.echo(f"  why {meta.status}: {meta.status_reason}")
    if meta.error:
        click.echo(f"  error: {meta.error}")
    for step in history:
        before = step.from_status or "-"
        click.echo(f"  {step.at:%Y-%m-%d %H:%M:%S} {step.actor}: {before} -> {step.to_status}"
                   + (f" ({step.reason})" if step.reason else ""))  # fmt: skip


@task.command("shell")
@click.argument("words", nargs=-1)
@click.option("--print", "print_only", is_flag=True, help="Print the command instead.")
@DATA_DIR_OPTION
def task_shell(words, print_only, data_dir):
    """Open a shell in a task's workspace with its environment (seed 000's task login)."""
    import shlex

    from webapp.orchestration.login import get_login_command

    with bound(data_dir):
        project_id, task_id, _ = _ref(words)
        command = get_login_command(project_id, task_id)
    if print_only:
        click.echo(shlex.join(command))
        return
    os.execvp(command[0], command)


@task.command("stop")
@click.argument("words", nargs=-1)
@click.option("--timeout", type=float, help="Seconds before SIGKILL (default: project grace).")
@click.option("--wait/--no-wait", default=True, show_default=True)
@DATA_DIR_OPTION
@ACTOR_OPTION
def task_stop(words, timeout, wait, data_dir, acting_as):
    """Stop a queued or running task (SIGTERM, SIGKILL after the grace period)."""
    with bound(data_dir):
        project_id, task_id, _ = _ref(words)
        meta = orch.task_stop(project_id, task_id, timeout=timeout, actor=acting_as or actor())
        audit.record(acting_as or actor(), "task.stop", f"{project_id}/{task_id}")
        grace = timeout if timeout is not None else orch.project_get(project_id).shutdown_grace
        pause = threading.Event()
        for _ in range(int((grace + 10) * 10) if wait else 0):
            if meta.is_terminal:
                break
            pause.wait(0.1)
            meta = orch.task_status(project_id, task_id)
    click.echo(f"Task {task_id}: {meta.status}")


@task.command("rename")
@click.argument("words", nargs=-1)
@DATA_DIR_OPTION
@ACTOR_OPTION
def task_rename(words, data_dir, acting_as):
    """Rename a task: <project>/<task> NAME or <project> <task> NAME."""
    with bound(data_dir):
        project_id, task_id, rest = _ref(words, needed=1)
        if len(rest) != 1:
            raise click.UsageError("Give exactly one new name (quote it if it has spaces)")
        meta = orch.task_rename(project_id, task_id, rest[0], actor=acting_as or actor())
        audit.record(acting_as or actor(), "task.rename", f"{project_id}/{task_id}", meta.name)
    click.echo(f"Renamed task {task_id} to {meta.name}")


@task.command("retry")
@click.argument("words", nargs=-1)
@DATA_DIR_OPTION
@ACTOR_OPTION
def task_retry(words, data_dir, acting_as):
    """Queue a new run of a finished task."""
    with bound(data_dir):
        project_id, task_id, _ = _ref(words)
        meta = orch.task_retry(project_id, task_id, actor=acting_as or actor())
        audit.record(acting_as or actor(), "task.retry", f"{project_id}/{task_id}",
                     f"run {meta.run_no}")  # fmt: skip
    click.echo(f"Queued run {meta.run_no} of task {task_id}")


@task.command("delete")
@click.argument("words", nargs=-1)
@DATA_DIR_OPTION
@ACTOR_OPTION
def task_delete(words, data_dir, acting_as):
    """Archive and delete a task (always completes; problems are printed as warnings)."""
    with bound(data_dir):
        project_id, task_id, _ = _ref(words)
        result = orch.task_delete(project_id, task_id, actor=acting_as or actor())
        detail = "; ".join(result.warnings) or "archived"
        audit.record(acting_as or actor(), "task.delete", f"{project_id}/{task_id}", detail)
    for warning in result.warnings:
        click.echo(f"  Warning: {warning}", err=True)
    done = "Deleted task" if not result.warnings else "Deleted task (with warnings)"
    click.echo(f"{done} {task_id}. Archive: webapp archive list {project_id}")


@task.command("logs")
@click.argument("words", nargs=-1)
@click.option("--tail", type=int, help="Only the last N lines.")
@click.option("--run", "run_no", type=int, help="Which run (default: the latest).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the task finishes.")
@DATA_DIR_OPTION
def task_logs(words, tail, run_no, follow, data_dir):
    """Print a task's log."""
    with bound(data_dir):
        project_id, task_id, _ = _ref(words)
        if tail is not None:
            chunk = orch.tail_task_log(project_id, task_id, lines=tail, run_no=run_no)
            click.echo(chunk.text, nl=False)
            offset = chunk.next_offset
        else:
            offset = _print_from(project_id, task_id, 0, run_no)
        pause = threading.Event()
        while follow and not orch.task_status(project_id, task_id).is_terminal:
            pause.wait(0.5)
            offset = _print_from(project_id, task_id, offset, run_no)
        if follow:
            _print_from(project_id, task_id, offset, run_no)


def _print_from(project_id: str, task_id: str, offset: int, run_no: int | None) -> int:
    while True:
        chunk = orch.read_task_log(project_id, task_id, offset=offset, run_no=run_no)
        sys.stdout.write(chunk.text)
        sys.stdout.flush()
        if chunk.next_offset == offset or chunk.eof:
            return chunk.next_offset
        offset = chunk.next_offset


# -- archive ------------------------------------------------------------------------------------
@click.group("archive")
def archive() -> None:
    """Browse deleted (archived) tasks and their logs."""


@archive.command("list")
@click.argument("project_id")
@DATA_DIR_OPTION
def archive_list(project_id, data_dir):
    """List a project's archived tasks, newest first."""
    with bound(data_dir):
        items = orch.list_archived_tasks(project_id)
    for item in items:
        facts = f"[status={item.status}; exit={item.exit_code}] ({item.archive_id})"
        click.echo(f"- {item.archived_at} #{item.task_id}: {item.name} {facts}")
    if not items:
        click.echo("No archived tasks found")


@archive.command("reindex")
@click.argument("project_id", required=False)
@DATA_DIR_OPTION
def archive_reindex(project_id, data_dir):
    """Rebuild the archive list's index from the archive folders (all projects by default)."""
    from webapp.orchestration import archive_index

    with bound(data_dir):
        projects = [project_id] if project_id else archive_index.archived_projects()
        for project in projects:
            count = archive_index.rebuild_archive_index(project)
            click.echo(f"{project}: {count} archived task{'' if count == 1 else 's'} indexed")
    if not projects:
        click.echo("No archives found")


@archive.command("logs")
@click.argument("project_id")
@click.argument("archive_id")
@click.option("--run", "run_no", type=int, help="Which run (default: the latest).")
@DATA_DIR_OPTION
def archive_logs(project_id, archive_id, run_no, data_dir):
    """Print an archived task's log (ARCHIVE_ID: a folder-name or task-ID prefix)."""
    with bound(data_dir):
        path = orch.task_archive_logs(project_id, archive_id, run_no=run_no)
        if path is None:
            raise click.ClickException(
                f"No archived logs found for {archive_id!r}. "
                f"Use 'webapp archive list {project_id}' to see available archives."
            )
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 16), b""):
                sys.stdout.buffer.write(block)


# -- worker ---------------------------------------------------------------------------------------
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@click.command("worker")
@click.option("--threads", type=click.IntRange(1, 256), help="Default: WORKER_THREADS.")
@click.option("--exit-when-idle", is_flag=True, help="Stop once nothing is queued or running.")
@DATA_DIR_OPTION
def worker(threads, exit_when_idle, data_dir):
    """Run tasks from the database until SIGTERM/SIGINT (any number may run at once)."""
    from webapp.worker import Worker

    with bound(data_dir) as settings:
        runner = Worker(settings, threads=threads)
        done = threading.Event()
        # Our handlers only while the worker runs: a caller's (or Ctrl-C's default) after.
        previous = {sig: signal.signal(sig, lambda *_: done.set()) for sig in STOP_SIGNALS}
        try:
            runner.start()
            click.echo(f"webapp: worker {runner.id} running {runner.threads} thread(s)", err=True)
            while not done.wait(0.2):
                if exit_when_idle and runner.is_idle():
                    break
            ended = runner.stop(timeout=15.0)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    sys.exit(0 if ended else 1)
