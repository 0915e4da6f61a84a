"""BASH tasks: the payload runs as ``bash -c payload`` (bash, not /bin/sh)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webapp.engine.context import TaskContext
from webapp.engine.handlers.subprocess import (
    EnvOrFactory,
    OutputCallback,
    PathOrFactory,
    SpawnCallback,
    make_command_handler,
)


def bash_argv(context: TaskContext) -> list[str]:
    return ["bash", "-c", context.payload]


def make_bash_handler(
    *,
    cwd: PathOrFactory = None,
    env: EnvOrFactory = None,
    on_output: OutputCallback | None = None,
    keep_output_bytes: int | None = None,
    on_spawn: SpawnCallback | None = None,
    kill_grace: float = 5.0,
    universal_newlines: bool = True,
) -> Callable[[TaskContext], Any]:
    """A BASH handler running on the shared runner (see :func:`make_command_handler`)."""
    return make_command_handler(
        bash_argv,
        cwd=cwd,
        env=env,
        on_output=on_output,
        keep_output_bytes=keep_output_bytes,
        on_spawn=on_spawn,
        kill_grace=kill_grace,
        universal_newlines=universal_newlines,
    )
