"""BASH tasks: the payload runs as ``bash -c payload`` (bash, not /bin/sh)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webapp.engine.context import TaskContext
from webapp.engine.handlers.subprocess import (
    make_command_handler,
)


def bash_argv(context: TaskContext) -> list[str]:
    return ["bash", "-c", context.payload]


def make_bash_handler(**options: Any) -> Callable[[TaskContext], Any]:
    """A BASH handler running on the shared runner (see :func:`make_command_handler`)."""
    return make_command_handler(bash_argv, **options)
