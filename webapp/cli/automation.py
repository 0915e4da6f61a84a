"""``webapp schedule ...`` and ``webapp notify ...``: schedules and notification channels
from a shell on the server, recorded in the audit log as ``cli:<login name>``."""

from __future__ import annotations

import click

from webapp.accounts import audit
from webapp.cli.tasks import bound
from webapp.cli.users import DATA_DIR_OPTION, actor
from webapp.orchestration import delivery, notifications, schedules


def _audit(settings, action: str, target: str, detail: str = "") -> None:
    audit.record(settings.store.db, actor=actor(), action=action, target=target, detail=detail,
                 address="cli")  # fmt: skip


def _line(s: schedules.Schedule) -> str:
    state = "active" if s.enabled else "paused"
    upcoming = s.next_times(1)[0].strftime("%Y-%m-%d %H:%M %Z") if s.enabled else "-"
    return f"{s.name:<24} {s.every:<18} {s.timezone:<16} {state:<7} next {upcoming}"


@click.group("schedule")
def schedule() -> None:
    """Start tasks on a cron line or an interval."""


@schedule.command("list")
@click.argument("project")
@DATA_DIR_OPTION
def list_schedules(project: str, data_dir: str | None) -> None:
    """A project's schedules and their next run."""
    with bound(data_dir):
        for each in schedules.schedule_list(project):
            click.echo(_line(each))


@schedule.command("create")
@click.argument("project")
@click.argument("name")
@click.option("--cron", help="A cron line, e.g. '*/5 * * * *'.")
@click.option("--every", type=float, help="Or an interval in seconds.")
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--overlap", type=click.Choice(schedules.OVERLAP_POLICIES), default="skip",
              show_default=True, help="While the previous run is still going.")  # fmt: skip
@click.option("--misfire", type=click.Choice(schedules.MISFIRE_POLICIES), default="once",
              show_default=True, help="After downtime: run once, or skip.")  # fmt: skip
@click.option("--type", "task_type", default="bash", show_default=True)
@click.option("--task-name", help="Name of the tasks it starts (default: the schedule's).")
@click.option("--timeout", type=float)
@click.argument("command", nargs=-1, required=True)
@DATA_DIR_OPTION
def create(project, name, cron, every, timezone, overlap, misfire, task_type, task_name,
           timeout, command, data_dir) -> None:  # fmt: skip
    """Create a schedule that runs COMMAND (after --)."""
    with bound(data_dir) as settings:
        try:
            made = schedules.schedule_create(
                project, name=name, cron=cron, every=every, timezone=timezone, overlap=overlap,
                misfire=misfire, task_type=task_type, task_name=task_name, timeout=timeout,
                payload=" ".join(command), actor=actor(),
            )  # fmt: skip
        except schedules.InvalidSchedule as error:
            raise click.BadParameter(str(error), param_hint=f"--{error.field}") from None
        _audit(settings, "schedule.create", f"{project}/{made.name}", made.every)
        click.echo(_line(made))
        for at in made.next_times(5):
            click.echo(f"  {at:%a %Y-%m-%d %H:%M %Z}")


def _toggle(project: str, name: str, data_dir: str | None, enabled: bool) -> None:
    with bound(data_dir) as settings:
        changed = schedules.schedule_update(project, name, enabled=enabled, actor=actor())
        action = "schedule.resume" if enabled else "schedule.pause"
        _audit(settings, action, f"{project}/{changed.name}")
        click.echo(_line(changed))


@schedule.command("pause")
@click.argument("project")
@click.argument("name")
@DATA_DIR_OPTION
def pause(project: str, name: str, data_dir: str | None) -> None:
    """Stop firing until resumed."""
    _toggle(project, name, data_dir, False)


@schedule.command("resume")
@click.argument("project")
@click.argument("name")
@DATA_DIR_OPTION
def resume(project: str, name: str, data_dir: str | None) -> None:
    """Fire again, from the next slot after now."""
    _toggle(project, name, data_dir, True)


@schedule.command("delete")
@click.argument("project")
@click.argument("name")
@DATA_DIR_OPTION
def delete(project: str, name: str, data_dir: str | None) -> None:
    """Delete a schedule (the tasks it started stay)."""
    with bound(data_dir) as settings:
        gone = schedules.schedule_delete(project, name)
        _audit(settings, "schedule.delete", f"{project}/{gone.name}")
        click.echo(f"deleted {gone.name}")


@click.group("notify")
def notify() -> None:
    """Tell people when tasks fail, get lost or recover."""


@notify.command("list")
@click.argument("project")
@DATA_DIR_OPTION
def list_channels(project: str, data_dir: str | None) -> None:
    """A project's channels (targets shown as hints only)."""
    with bound(data_dir):
        for c in notifications.channel_list(project):
            state = "active" if c.enabled else "paused"
            click.echo(f"{c.name:<20} {c.kind:<8} {state:<7} {','.join(c.events):<28} "
                       f"{c.target_hint}")  # fmt: skip


@notify.command("add")
@click.argument("project")
@click.argument("name")
@click.option("--kind", type=click.Choice(notifications.CHANNEL_KINDS), required=True)
@click.option(
    "--target",
    envvar="WEBAPP_NOTIFY_TARGET",
    prompt=True,
    hide_input=True,
    help="Webhook URL or e-mail addresses (prompted for, hidden, when not given).",
)
@click.option("--on", "events", default=",".join(notifications.DEFAULT_EVENTS),
              show_default=True, help="Events, comma-separated.")  # fmt: skip
@DATA_DIR_OPTION
def add(project, name, kind, target, events, data_dir) -> None:
    """Add a channel."""
    with bound(data_dir) as settings:
        try:
            made = notifications.channel_create(
                project, name=name, kind=kind, target=target, events=events, actor=actor()
            )
        except notifications.InvalidChannel as error:
            raise click.BadParameter(str(error), param_hint=f"--{error.field}") from None
        _audit(settings, "notification.create", f"{project}/{made.name}",
               f"{made.kind} to {made.target_hint}")  # fmt: skip
        click.echo(f"added {made.name}: {made.kind} to {made.target_hint}")


@notify.command("remove")
@click.argument("project")
@click.argument("name")
@DATA_DIR_OPTION
def remove(project: str, name: str, data_dir: str | None) -> None:
    """Remove a channel."""
    with bound(data_dir) as settings:
        gone = notifications.channel_delete(project, name)
        _audit(settings, "notification.delete", f"{project}/{gone.name}")
        click.echo(f"removed {gone.name}")


@notify.command("test")
@click.argument("project")
@click.argument("name")
@DATA_DIR_OPTION
def test(project: str, name: str, data_dir: str | None) -> None:
    """Send a made-up failure to a channel now."""
    with bound(data_dir):
        try:
            delivery.send_test(project, name)
        except delivery.DeliveryError as error:
            raise click.ClickException(f"not delivered: {error}") from None
        click.echo("sent")
