"""The task engine: tasks, their executor, events and DAG workflows (seed 002).

Seed names are canonical (``TaskStatus.DONE``, ``task.is_done``); the published release's
names are aliases (``TaskStatus.SUCCEEDED is TaskStatus.DONE``, ``task.is_succeeded``).
"""

from webapp.engine.context import RetryPolicy, TaskContext
from webapp.engine.errors import (
    HandlerUnavailableError,
    TaskCancelled,
    TaskExecutionError,
    TaskTimeoutError,
)
from webapp.engine.events import EventBus, TaskEvent, TaskEventType
from webapp.engine.executor import TaskExecutor
from webapp.engine.graph import TaskGraph
from webapp.engine.handlers import (
    AGENT_PRESETS,
    make_bash_handler,
    make_cli_agent_handler,
    make_command_handler,
    make_copilot_agent_handler,
    make_copilot_prompt_handler,
    make_http_prompt_handler,
    make_powershell_handler,
    run_process,
)
from webapp.engine.task import (
    TASK_TYPES,
    TERMINATION_REASONS,
    Task,
    TaskResult,
    TaskStatus,
    TaskType,
)

__all__ = [
    "AGENT_PRESETS",
    "TASK_TYPES",
    "TERMINATION_REASONS",
    "EventBus",
    "HandlerUnavailableError",
    "RetryPolicy",
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
    "make_bash_handler",
    "make_cli_agent_handler",
    "make_command_handler",
    "make_copilot_agent_handler",
    "make_copilot_prompt_handler",
    "make_http_prompt_handler",
    "make_powershell_handler",
    "run_process",
]
