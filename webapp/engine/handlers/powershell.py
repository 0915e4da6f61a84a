"""POWERSHELL tasks: the payload runs through ``pwsh -Command``; no pwsh, a clear failure."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from webapp.engine.context import TaskContext
from webapp.engine.errors import HandlerUnavailableError
from webapp.engine.handlers.subprocess import (
    make_command_handler,
)

PWSH_MISSING = (
    "PowerShell tasks need `pwsh` on PATH; install PowerShell 7 "
    "(https://learn.microsoft.com/powershell/scripting/install/installing-powershell) "
    "or register another POWERSHELL handler"
)


def powershell_argv(context: TaskContext) -> list[str]:
    pwsh = shutil.which("pwsh")
    if pwsh is None:
        raise HandlerUnavailableError(PWSH_MISSING)
    return [pwsh, "-NoLogo", "-NoProfile", "-NonInteractive", "-Command", context.payload]


def make_powershell_handler(**options: Any) -> Callable[[TaskContext], Any]:
    """A POWERSHELL handler running on the shared runner (see :func:`make_command_handler`)."""
    return make_command_handler(powershell_argv, **options)
