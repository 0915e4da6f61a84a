"""Exceptions raised by tasks, handlers and the executor."""

from __future__ import annotations

import subprocess


class TaskCancelled(RuntimeError):  # noqa: N818 - the public name of the seed
    """The task was cancelled; ``completed`` holds partial process output, if any."""

    def __init__(
        self, message: str = "cancelled", completed: subprocess.CompletedProcess | None = None
    ):
        super().__init__(message)
        self.completed = completed


class TaskExecutionError(RuntimeError):
    """A subprocess exited with a non-zero code; ``completed`` holds its output."""

    def __init__(self, message: str, completed: subprocess.CompletedProcess | None = None):
        super().__init__(message)
        self.completed = completed


class TaskTimeoutError(TimeoutError):
    """A task ran longer than its ``timeout``; ``completed`` holds its partial output."""

    def __init__(self, message: str, completed: subprocess.CompletedProcess | None = None):
        super().__init__(message)
        self.completed = completed


class HandlerUnavailableError(RuntimeError):
    """A handler cannot run here (missing program, package or setting); the message says why."""
