"""The task engine: tasks, their executor, events and DAG workflows (seed 002)."""

from webapp.engine.errors import (
    HandlerUnavailableError,
    TaskCancelled,
    TaskExecutionError,
    TaskTimeoutError,
)
from webapp.engine.task import Task, TaskResult, TaskStatus, TaskType

__all__ = [
    "HandlerUnavailableError",
    "Task",
    "TaskCancelled",
    "TaskExecutionError",
    "TaskResult",
    "TaskStatus",
    "TaskTimeoutError",
    "TaskType",
]
