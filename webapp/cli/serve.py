"""``webapp serve``: the dashboard under gunicorn (never Flask's development server).

gunicorn runs in this process (its ``BaseApplication``), so its workers are forks of the
``webapp`` that printed the data folder and the first password: they cannot import another
copy of the package from the current folder and open a second database.
"""

from __future__ import annotations

import gc
import ipaddress
import os
import sys
from pathlib import Path

import click
from gunicorn.app.base import BaseApplication

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


class DashboardServer(BaseApplication):
    """gunicorn run in this process, its workers building the app from the settings serve
    resolved (not from whatever ``webapp`` the current folder would import)."""

    def __init__(self, options: dict, app_config: dict):
        self.options = options
        self.app_config = app_config
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # newer gunicorns know more settings
                self.cfg.set(key, value)

    def load(self):
        from webapp import create_app

        return create_app(dict(self.app_config))


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict:
    return {
        "bind": [bind_address(host, port)],
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "proc_name": "webapp",
        # gunicorn >= 25.1 opens ~/.gunicorn/gunicorn.ctl by default: one per user, which two
        # dashboards (or test servers) would fight over. Nothing of ours uses it.
        "control_socket_disable": True,
    }


def prepare() -> tuple[dict, list[str]]:
    """Resolve the settings and set the database up (first admin, default project) once, in
    the process gunicorn forks later; every connection it opened is closed before the fork
    (SQLite connections must not cross one)."""
    from webapp import create_app

    app = create_app({"WORKER_ENABLED": False})
    resolved = {key: app.config[key] for key in ("DATA_DIR", "DATABASE", "SECRET_KEY")}
    messages = list(app.extensions.get("webapp.startup_messages", []))
    messages += old_data_hints(Path(resolved["DATA_DIR"]))
    del app  # the workers build their own app after the fork
    gc.collect()  # the app's databases close when their owners are collected
    return resolved, messages


def old_data_hints(data_dir: Path) -> list[str]:
    """Where versions before the per-user data folder kept their data, if some is there."""
    hints = []
    for old in (Path(sys.prefix) / "var" / "webapp-instance", Path.cwd() / "instance"):
        if (old / "webapp.db").is_file() and old.resolve() != data_dir:
            hints.append(
                f"webapp: note: {old} holds data of an older version (it kept its data there); "
                f"move its contents to {data_dir}, or start with --data-dir {old}"
            )
    return hints


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes (each also runs tasks).")  # fmt: skip
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Request threads per worker process.")  # fmt: skip
@click.option("--data-dir", type=click.Path(file_okay=False), envvar="WEBAPP_DATA_DIR",
              help="Folder for the database, logs, workspaces and archives.")  # fmt: skip
def serve(host: str, port: int, workers: int, threads: int, data_dir: str | None) -> None:
    """Run the dashboard under gunicorn and print the URL to open."""
    if data_dir:
        os.environ["WEBAPP_DATA_DIR"] = os.path.abspath(data_dir)
    resolved, messages = prepare()
    # The workers (and anything they start) see the same folder even through the environment.
    os.environ["WEBAPP_DATA_DIR"] = resolved["DATA_DIR"]
    for line in messages:
        click.echo(line)
    if not is_loopback(host):
        click.secho(
            f"Warning: binding {host} exposes the dashboard, which runs shell commands, to the "
            "network. Put it behind HTTPS and keep its accounts safe.",
            fg="yellow",
            err=True,
        )
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"webapp: data in {resolved['DATA_DIR']}")
    click.echo(f"webapp: open http://{shown}:{port}/")
    sys.stdout.flush()
    DashboardServer(gunicorn_options(host, port, workers, threads), resolved).run()
