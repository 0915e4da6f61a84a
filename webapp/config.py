"""Settings: defaults < the config file in the data folder < ``WEBAPP_*`` environment variables.

The data folder is resolved once, the same way for every entry point (``webapp serve``, every
CLI verb, ``gunicorn webapp.wsgi:app``), whatever path the package was imported from:
``WEBAPP_DATA_DIR`` if set, else the per-user data folder ``$XDG_DATA_HOME/webapp``
(``~/.local/share/webapp``). It is never inside the package or its virtual environment.

Every setting the dashboard reads is listed in ``DEFAULTS`` with a one-line description in
``DESCRIPTIONS`` (a test checks that the two agree and that the README mentions each one).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

DEFAULTS: dict[str, object] = {
    "DATA_DIR": None,
    "DATABASE": None,
    "SECRET_KEY": None,
    "WORKER_ENABLED": True,
    "WORKER_THREADS": 4,
    "WORKER_POLL_INTERVAL": 0.5,
    "POLL_INTERVAL": 2.0,
    "LOG_CAP_BYTES": 50 * 1024 * 1024,
    "MAX_CONCURRENT_TASKS": 0,
    "WORKER_HEARTBEAT_INTERVAL": 2.0,
    "WORKER_LOST_AFTER": 30.0,
    "ARCHIVE_MAX_AGE_DAYS": 0,
    "ARCHIVE_KEEP_LAST": 0,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "CREATE_FIRST_ADMIN": True,
    "PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY",
    "LOGIN_FREE_ATTEMPTS": 5,
    "LOGIN_LOCK_AFTER": 10,
    "LOGIN_LOCK_SECONDS": 900,
    "WTF_CSRF_TIME_LIMIT": None,
    "TRUSTED_PROXIES": 0,
    "TASK_NAME_CATEGORIES": None,
    "LLM_PRICES": None,
    "PUBLIC_URL": "http://127.0.0.1:8000",
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_FROM": "webapp@localhost",
    "SMTP_STARTTLS": False,
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,
    "DATABASE_BUSY_TIMEOUT": 30.0,
}

DESCRIPTIONS: dict[str, str] = {
    "DATA_DIR": "Folder for the database, task logs, workspaces, archives and config.py "
    "(default: ~/.local/share/webapp, or $XDG_DATA_HOME/webapp).",
    "DATABASE": "Path of the SQLite database (default: DATA_DIR/webapp.db).",
    "SECRET_KEY": "Signs session cookies; generated once into DATA_DIR/secret_key when unset.",
    "WORKER_ENABLED": "Run a worker thread inside each server process.",
    "WORKER_THREADS": "How many tasks one worker process runs at once.",
    "WORKER_POLL_INTERVAL": "Seconds an idle worker waits before looking for queued tasks again.",
    "POLL_INTERVAL": "Seconds between the browser's live-status polls.",
    "LOG_CAP_BYTES": "Largest log kept per task run; further output is dropped with a marker.",
    "MAX_CONCURRENT_TASKS": "Running tasks across every worker process at once (0: no limit "
    "beyond each process's WORKER_THREADS).",
    "WORKER_HEARTBEAT_INTERVAL": "Seconds between a worker's heartbeats (and its checks for "
    "dead workers).",
    "WORKER_LOST_AFTER": "Seconds a worker on another host may stay silent while the database "
    "takes writes before it counts as dead (on this host only a gone process proves it); its "
    "running tasks are then settled.",
    "ARCHIVE_MAX_AGE_DAYS": "Archived (deleted) tasks older than this are removed by the "
    "worker (0: keep them).",
    "ARCHIVE_KEEP_LAST": "Archived tasks kept per project, newest first (0: no limit).",
    "SESSION_COOKIE_HTTPONLY": "Session cookie hidden from JavaScript.",
    "SESSION_COOKIE_SAMESITE": "SameSite policy of the session cookie.",
    "SESSION_COOKIE_SECURE": "Always mark the session cookie Secure (HTTPS requests get it "
    "anyway).",
    "CREATE_FIRST_ADMIN": "On first start with no users, create 'admin' with a random password "
    "that `webapp serve` prints once.",
    "PASSWORD_HASH_PROFILE": "argon2id parameters: RFC_9106_LOW_MEMORY, RFC_9106_HIGH_MEMORY "
    "(or CHEAPEST, for test suites only).",
    "LOGIN_FREE_ATTEMPTS": "Failed logins per user (three times as many per address) before each "
    "further attempt must wait, doubling from 1 s.",
    "LOGIN_LOCK_AFTER": "Failed logins per user (three times as many per address) that lock "
    "sign-in.",
    "LOGIN_LOCK_SECONDS": "How long sign-in stays locked, and how long failures are remembered.",
    "WTF_CSRF_TIME_LIMIT": "Seconds a form's CSRF token stays valid (none: as long as the "
    "session).",
    "TRUSTED_PROXIES": "Reverse proxies in front of the server whose X-Forwarded-For/-Proto/-Host "
    "headers are trusted (0: none).",
    "TASK_NAME_CATEGORIES": "unique-namer categories for generated task names of projects that "
    "set none (none: 3 categories chosen from the project ID).",
    "LLM_PRICES": "Prices of prompt-task models in USD per million tokens, "
    '{"model": {"prompt": 0.15, "completion": 0.6}}; a project\'s own table wins.',
    "PUBLIC_URL": "The dashboard's address as its users reach it, for links in notifications.",
    "SMTP_HOST": "SMTP server for e-mail notifications (empty: e-mail channels fail, saying so).",
    "SMTP_PORT": "Port of the SMTP server.",
    "SMTP_USER": "User to sign in to the SMTP server as (empty: no sign-in).",
    "SMTP_PASSWORD": "Password for SMTP_USER (write-only: never shown or logged).",
    "SMTP_FROM": "Sender address of notification e-mails.",
    "SMTP_STARTTLS": "Upgrade the SMTP connection with STARTTLS before signing in.",
    "MAX_CONTENT_LENGTH": "Largest request body in bytes (form or JSON); larger ones get 413 "
    "before they are read.",
    "DATABASE_BUSY_TIMEOUT": "Seconds a request or worker waits for another process's database "
    "write lock before giving up (a request then gets 503 with Retry-After).",
}

INSTANCE_CONFIG_FILE = "config.py"
APP_FOLDER = "webapp"


def default_data_dir() -> Path:
    """The per-user data folder (XDG): outside any checkout, package or virtualenv."""
    base = os.environ.get("XDG_DATA_HOME") or "~/.local/share"
    return Path(base).expanduser().resolve() / APP_FOLDER


def resolve_data_dir(test_config: dict | None = None) -> Path:
    """The data folder: the caller's DATA_DIR, else ``WEBAPP_DATA_DIR``, else the default.

    It doubles as the Flask instance folder, so the optional ``config.py`` is found in the
    same place by every process.
    """
    chosen = (test_config or {}).get("DATA_DIR") or os.environ.get("WEBAPP_DATA_DIR")
    return Path(chosen).expanduser().resolve() if chosen else default_data_dir()


def load(app: Flask, test_config: dict | None = None) -> None:
    """Fill ``app.config`` in the documented order, then derive the paths."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile(INSTANCE_CONFIG_FILE, silent=True)
    app.config.from_prefixed_env("WEBAPP")
    if test_config:
        app.config.from_mapping(test_config)
    data_dir = Path(app.config["DATA_DIR"] or app.instance_path).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    app.config["DATA_DIR"] = str(data_dir)
    if not app.config["DATABASE"]:
        app.config["DATABASE"] = str(data_dir / "webapp.db")
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _shared_secret_key(data_dir / "secret_key")


def _shared_secret_key(path: Path) -> str:
    """Read the key every server process shares, creating it exactly once."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if key:
            return key
        # Another process created the file and is writing it: fall through to its content.
        return _wait_for_key(path)
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _wait_for_key(path: Path, attempts: int = 200) -> str:
    import time

    for _ in range(attempts):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)
    raise RuntimeError(f"{path} stays empty; delete it and restart")
