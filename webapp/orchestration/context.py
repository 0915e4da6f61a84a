"""Where the orchestration's data lives: ``Settings``, binding them, the per-thread database.

Every public function of the package works on the settings bound to the current context::

    with bind(Settings.for_data_dir("/var/lib/webapp")):
        task_new("demo", payload="echo hi")

``init_app(app)`` binds an app's settings before each request (duck-typed: no Flask import).
One ``ServerStore`` per Settings object holds one sqlite-utils ``Database`` per thread.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from webapp.orchestration.errors import NotBound
from webapp.orchestration.status import derive_status
from webapp.store.server_store import ServerStore

EXTENSION_KEY = "webapp.orchestration"
DATABASE_NAME = "webapp.db"

_current: ContextVar[Settings | None] = ContextVar("webapp_orchestration", default=None)
_request_token: ContextVar[Token | None] = ContextVar("webapp_orchestration_request", default=None)

# Flask-style config key -> Settings field; values of 0 mean "no limit" where noted.
CONFIG_KEYS = {
    "LOG_CAP_BYTES": "log_cap_bytes",
    "MAX_CONCURRENT_TASKS": "max_concurrent_tasks",
    "WORKER_THREADS": "worker_threads",
    "WORKER_POLL_INTERVAL": "worker_poll_interval",
    "WORKER_HEARTBEAT_INTERVAL": "heartbeat_interval",
    "WORKER_LOST_AFTER": "worker_lost_after",
    "ARCHIVE_MAX_AGE_DAYS": "archive_max_age_days",
    "ARCHIVE_KEEP_LAST": "archive_keep_last",
}


@dataclass(frozen=True)
class Settings:
    """Paths and limits of one installation (immutable; build with ``from_config``)."""

    data_dir: Path
    database: str
    log_cap_bytes: int = 50 * 1024 * 1024
    max_concurrent_tasks: int = 0  # 0: no global limit
    worker_threads: int = 4
    worker_poll_interval: float = 0.5
    heartbeat_interval: float = 2.0
    worker_lost_after: float = 30.0
    archive_max_age_days: float = 0  # 0: keep archives forever
    archive_keep_last: int = 0  # 0: no count limit
    output_tail_bytes: int = 64 * 1024
    retention_interval: float = 600.0
    task_name_categories: tuple[str, ...] | None = None
    """Global unique-namer categories (seed 000's ``tasks.name_categories``)."""
    llm_prices: Mapping[str, Mapping[str, float]] | None = None
    """USD per million prompt/completion tokens, per model."""
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "database", os.fspath(self.database))
        for name in ("log_cap_bytes", "worker_threads", "output_tail_bytes"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("max_concurrent_tasks", "archive_keep_last", "archive_max_age_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative (0 means no limit)")
        for name in ("worker_poll_interval", "heartbeat_interval", "worker_lost_after"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of seconds")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Build from Flask-style keys (DATA_DIR, DATABASE, LOG_CAP_BYTES, ...)."""
        data_dir = Path(config.get("DATA_DIR") or ".").expanduser().resolve()
        database = config.get("DATABASE") or str(data_dir / DATABASE_NAME)
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, name in CONFIG_KEYS.items():
            if config.get(key) is not None:
                values[name] = float(config[key]) if "float" in known[name] else int(config[key])
        categories = config.get("TASK_NAME_CATEGORIES")
        if isinstance(categories, str):
            categories = [part.strip() for part in categories.split(",") if part.strip()]
        if categories:
            from webapp.orchestration.naming import validate_name_categories

            values["task_name_categories"] = tuple(validate_name_categories(categories) or ())
        if config.get("LLM_PRICES"):
            from webapp.orchestration.usage import check_prices

            values["llm_prices"] = check_prices(config["LLM_PRICES"], "LLM_PRICES")
        return cls(data_dir=data_dir, database=database, **values)

    @classmethod
    def for_data_dir(cls, data_dir: str | os.PathLike, **overrides: Any) -> Settings:
        """Settings for a data folder with the database at its usual place."""
        path = Path(data_dir).expanduser().resolve()
        overrides.setdefault("database", str(path / DATABASE_NAME))
        return cls(data_dir=path, **overrides)

    @property
    def tasks_root(self) -> Path:
        """``<tasks_root>/<project>/<task>/{workspace,logs}``."""
        return self.data_dir / "tasks"

    @property
    def archive_root(self) -> Path:
        return self.data_dir / "archive"

    @property
    def store(self) -> ServerStore:
        """The installation's store, opened (and migrated) on first use."""
        existing = self.__dict__.get("_store")
        if existing is not None:
            return existing
        with self._lock:
            existing = self.__dict__.get("_store")
            if existing is None:
                existing = ServerStore(self.database, derive=derive_status)
                object.__setattr__(self, "_store", existing)
        return existing


def current() -> Settings:
    """The settings bound to this context; NotBound when nothing is."""
    settings = _current.get()
    if settings is None:
        raise NotBound(
            "No webapp settings are bound here; wrap the call in "
            "`with orchestration.bind(settings):` (the web app does it per request)"
        )
    return settings


def store() -> ServerStore:
    return current().store


def db() -> Database:
    """The calling thread's Database for the bound settings."""
    return current().store.db


@contextlib.contextmanager
def bind(settings: Settings) -> Iterator[Settings]:
    """Bind ``settings`` for the duration of the block (this thread/context only)."""
    if not isinstance(settings, Settings):
        raise TypeError(f"bind() needs Settings, got {type(settings).__name__}")
    token = _current.set(settings)
    try:
        yield settings
    finally:
        _current.reset(token)


def bind_forever(settings: Settings) -> None:
    """Bind ``settings`` to the current context without a block (a thread's whole life)."""
    _current.set(settings)


def init_app(app: Any) -> Settings:
    """Create the app's Settings, keep them in ``app.extensions`` and bind them per request."""
    settings = Settings.from_config(app.config)
    app.extensions[EXTENSION_KEY] = settings

    def bind_settings() -> None:
        _request_token.set(_current.set(settings))

    def unbind_settings(_error: BaseException | None = None) -> None:
        token = _request_token.get()
        if token is not None:
            _request_token.set(None)
            with contextlib.suppress(ValueError):  # set in another context: nothing to undo
                _current.reset(token)

    app.before_request(bind_settings)
    app.teardown_request(unbind_settings)
    return settings


def settings_of(app: Any) -> Settings:
    """The Settings ``init_app`` stored on ``app``."""
    try:
        return app.extensions[EXTENSION_KEY]
    except KeyError:
        raise NotBound("orchestration.init_app(app) was not called for this app") from None
