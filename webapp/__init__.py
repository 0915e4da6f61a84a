"""webapp: a self-hosted dashboard for tasks and DAG workflows.

``create_app`` builds the Flask application (the web room); the task engine's public API is
re-exported here so that ``from webapp import Task, TaskExecutor, TaskGraph`` works without
touching Flask.
"""

from __future__ import annotations

from pathlib import Path

from webapp.engine import (
    EventBus,
    RetryPolicy,
    Task,
    TaskCancelled,
    TaskContext,
    TaskEvent,
    TaskEventType,
    TaskExecutionError,
    TaskExecutor,
    TaskGraph,
    TaskResult,
    TaskStatus,
    TaskTimeoutError,
    TaskType,
    make_copilot_agent_handler,
    make_copilot_prompt_handler,
)
from webapp.store import InMemoryStore, SQLiteStore, Store

__all__ = [
    "EventBus",
    "InMemoryStore",
    "RetryPolicy",
    "SQLiteStore",
    "Store",
    "Task",
    "TaskCancelled",
    "TaskContext",
    "TaskEvent",
    "TaskEventType",
    "TaskExecutionError",
    "TaskExecutor",
    "TaskGraph",
    "TaskResult",
    "TaskStatus",
    "TaskTimeoutError",
    "TaskType",
    "create_app",
    "make_copilot_agent_handler",
    "make_copilot_prompt_handler",
]

PACKAGE_DIR = Path(__file__).resolve().parent


def _resource_dir(name: str) -> Path:
    """templates/ and static/ sit at the top of a checkout and inside an installed wheel."""
    installed = PACKAGE_DIR / name
    return installed if installed.is_dir() else PACKAGE_DIR.parent / name


def create_app(test_config: dict | None = None):
    """Application factory: settings, then one ``init_app`` per concern."""
    from flask import Flask

    from webapp import config, web

    app = Flask(
        __name__,
        instance_path=str(config.resolve_data_dir(test_config)),
        instance_relative_config=True,
        template_folder=str(_resource_dir("templates")),
        static_folder=str(_resource_dir("static")),
    )
    config.load(app, test_config)
    from webapp import orchestration, worker

    orchestration.init_app(app)
    web.init_app(app)
    worker.init_app(app)
    return app
