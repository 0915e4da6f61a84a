"""``webapp serve``: the dashboard under gunicorn (never Flask's development server)."""

from __future__ import annotations

import ipaddress
import os
import sys

import click

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def gunicorn_argv(host: str, port: int, workers: int, threads: int) -> list[str]:
    bind = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    return [
        sys.executable, "-m", "gunicorn",
        "--bind", bind,
        "--workers", str(workers),
        "--threads", str(threads),
        "--worker-class", "gthread",
        "--access-logfile", "-",
        "webapp.wsgi:app",
    ]  # fmt: skip


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
    from webapp import create_app

    if data_dir:
        os.environ["WEBAPP_DATA_DIR"] = os.path.abspath(data_dir)
    app = create_app({"WORKER_ENABLED": False})
    for line in app.extensions.get("webapp.startup_messages", []):
        click.echo(line)
    if not is_loopback(host):
        click.secho(
            f"Warning: binding {host} exposes the dashboard, which runs shell commands, to the "
            "network. Put it behind HTTPS and keep its accounts safe.",
            fg="yellow",
            err=True,
        )
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"webapp: data in {app.config['DATA_DIR']}")
    click.echo(f"webapp: open http://{shown}:{port}/")
    sys.stdout.flush()
    argv = gunicorn_argv(host, port, workers, threads)
    os.execv(argv[0], argv)
