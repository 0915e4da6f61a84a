"""The TaskResult of a run that ended in an exception (failure, timeout or cancel)."""

from __future__ import annotations

from typing import Any

from webapp.engine.errors import TaskExecutionError, TaskTimeoutError
from webapp.engine.task import Task, TaskResult, TaskStatus

_FAILED = TaskStatus.FAILED
_CANCELLED = TaskStatus.CANCELLED


def describe(exc: BaseException) -> str:
    """``str(exc)``, even when the exception's ``__str__`` itself fails."""
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__name__} with an unprintable message>"


def failed_result(task: Task, exc: Any, message: str | None, times: dict) -> TaskResult:
    completed = getattr(exc, "completed", None)
    if isinstance(exc, TaskExecutionError | TaskTimeoutError) and completed is not None:
        timed_out = isinstance(exc, TaskTimeoutError)
        return TaskResult(
            task.id,
            _FAILED,
            **times,
            output=completed.stdout or "",
            error=message if timed_out else (completed.stderr or message),
            returncode=completed.returncode,
            raw=completed,
            termination_reason="timeout" if timed_out else "exit_code",
        )
    reason = "timeout" if isinstance(exc, TaskTimeoutError) else "handler"
    if isinstance(exc, TaskExecutionError):
        reason = "exit_code"
    return TaskResult(task.id, _FAILED, **times, error=message, termination_reason=reason)


def cancelled_result(task: Task, exc: Any, message: str, times: dict) -> TaskResult:
    completed = getattr(exc, "completed", None)
    if completed is None:
        return TaskResult(
            task.id, _CANCELLED, **times, error=message, termination_reason="cancelled"
        )
    return TaskResult(
        task.id,
        _CANCELLED,
        **times,
        output=completed.stdout or "",
        error=message,
        returncode=completed.returncode,
        raw=completed,
        termination_reason="cancelled",
    )
