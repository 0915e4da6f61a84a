"""``webapp user create|list|set-role|reset-password|disable|enable``: accounts from a shell.

These act as ``cli:<login name>`` in the audit log. Generated passwords are printed once.
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator

import click

from webapp.accounts import users as accounts
from webapp.accounts.errors import AccountError

SHELL = "shell"
"""The audit log's "from" for changes made with the ``webapp`` command on the server."""

DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    envvar="WEBAPP_DATA_DIR",
    help="Folder of the dashboard's database (as given to `webapp serve`).",
)


@contextlib.contextmanager
def accounts_database(data_dir: str | None) -> Iterator[tuple]:
    """The configured database and password hasher, with the accounts tables in place."""
    from webapp import create_app
    from webapp.accounts.database import open_accounts

    if data_dir:
        os.environ["WEBAPP_DATA_DIR"] = os.path.abspath(data_dir)
    app = create_app({"WORKER_ENABLED": False, "CREATE_FIRST_ADMIN": False})
    db = open_accounts(app.config["DATABASE"])
    try:
        yield db, app.extensions["webapp.password_hasher"]
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    finally:
        db.close()


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@click.group("user")
def user() -> None:
    """Create and manage dashboard users (viewer < operator < admin)."""


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(accounts.ROLES), default="viewer", show_default=True)
@click.option("--password", help="Default: generate one and print it once.")
@DATA_DIR_OPTION
def create(username: str, role: str, password: str | None, data_dir: str | None) -> None:
    """Create a user."""
    generated = password is None
    password = password or accounts.generate_password()
    with accounts_database(data_dir) as (db, hasher):
        created = accounts.create_user(
            db, username, password, role=role, actor=actor(), address=SHELL, hasher=hasher
        )
    click.echo(f"created {created.username} ({created.role})")
    if generated:
        click.echo(f"password: {password}")


@user.command("list")
@DATA_DIR_OPTION
def list_users(data_dir: str | None) -> None:
    """List users with their role and state."""
    with accounts_database(data_dir) as (db, _):
        listing = accounts.list_users(db)
    for each in listing:
        state = "disabled" if each.disabled else "active"
        click.echo(f"{each.username:<24} {each.role:<9} {state:<9} since {each.created_at[:10]}")


@user.command("set-role")
@click.argument("username")
@click.argument("role", type=click.Choice(accounts.ROLES))
@DATA_DIR_OPTION
def set_role(username: str, role: str, data_dir: str | None) -> None:
    """Give a user another role."""
    with accounts_database(data_dir) as (db, _):
        changed = accounts.set_role(db, username, role, actor=actor(), address=SHELL)
    click.echo(f"{changed.username} is now {changed.role}")


@user.command("reset-password")
@click.argument("username")
@click.option("--password", help="Default: generate one and print it once.")
@DATA_DIR_OPTION
def reset_password(username: str, password: str | None, data_dir: str | None) -> None:
    """Set a new password (signs the user out everywhere)."""
    with accounts_database(data_dir) as (db, hasher):
        changed, new = accounts.set_password(
            db, username, password, actor=actor(), address=SHELL, hasher=hasher
        )
    click.echo(f"password of {changed.username} changed; their sessions are signed out")
    if password is None:
        click.echo(f"password: {new}")


@user.command("disable")
@click.argument("username")
@DATA_DIR_OPTION
def disable(username: str, data_dir: str | None) -> None:
    """Disable a user: sessions end, tokens stop working, sign-in is refused."""
    with accounts_database(data_dir) as (db, _):
        changed = accounts.set_disabled(db, username, True, actor=actor(), address=SHELL)
    click.echo(f"{changed.username} is disabled")


@user.command("enable")
@click.argument("username")
@DATA_DIR_OPTION
def enable(username: str, data_dir: str | None) -> None:
    """Enable a disabled user again."""
    with accounts_database(data_dir) as (db, _):
        changed = accounts.set_disabled(db, username, False, actor=actor(), address=SHELL)
    click.echo(f"{changed.username} is enabled")
