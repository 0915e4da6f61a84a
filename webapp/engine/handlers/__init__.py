"""Built-in handlers: bash, powershell, prompt (LLM providers) and agent (CLIs, Copilot)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webapp.engine.handlers.agent import (
    AGENT_PRESETS,
    make_cli_agent_handler,
    make_copilot_agent_handler,
    make_default_agent_handler,
)
from webapp.engine.handlers.bash import make_bash_handler
from webapp.engine.handlers.powershell import make_powershell_handler
from webapp.engine.handlers.prompt import (
    make_copilot_prompt_handler,
    make_default_prompt_handler,
    make_http_prompt_handler,
)
from webapp.engine.handlers.subprocess import make_command_handler, run_process, signal_group
from webapp.engine.task import TaskType

__all__ = [
    "AGENT_PRESETS",
    "default_handlers",
    "make_bash_handler",
    "make_cli_agent_handler",
    "make_command_handler",
    "make_copilot_agent_handler",
    "make_copilot_prompt_handler",
    "make_default_agent_handler",
    "make_default_prompt_handler",
    "make_http_prompt_handler",
    "make_powershell_handler",
    "run_process",
    "signal_group",
]


def default_handlers() -> dict[TaskType, Callable[..., Any]]:
    """The handlers a plain ``TaskExecutor()`` registers."""
    return {
        TaskType.BASH: make_bash_handler(),
        TaskType.POWERSHELL: make_powershell_handler(),
        TaskType.PROMPT: make_default_prompt_handler(),
        TaskType.AGENT: make_default_agent_handler(),
    }
