"""AGENT tasks: an instruction for a tool-using agent (an agent CLI, or the Copilot SDK).

Agent payloads are trusted executable instructions, like BASH payloads.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Callable, Sequence
from typing import Any

from webapp.engine.context import TaskContext
from webapp.engine.errors import HandlerUnavailableError
from webapp.engine.handlers.copilot import INSTALL_HINT, ask_copilot, check_model
from webapp.engine.handlers.copilot import copilot_available as copilot_available
from webapp.engine.handlers.subprocess import (
    EnvOrFactory,
    OutputCallback,
    PathOrFactory,
    SpawnCallback,
    make_command_handler,
)

PAYLOAD = "{payload}"
#: Argument templates for common agent CLIs; ``{payload}`` is replaced by the instruction.
AGENT_PRESETS: dict[str, tuple[str, ...]] = {
    "claude": ("claude", "-p", PAYLOAD),
    "codex": ("codex", "exec", PAYLOAD),
    "copilot": ("copilot", "-p", PAYLOAD, "--allow-all-tools"),
    "gemini": ("gemini", "-p", PAYLOAD),
}
NO_AGENT = (
    "AGENT tasks need an agent: set WEBAPP_AGENT_COMMAND to a preset "
    f"({', '.join(AGENT_PRESETS)}) or a command line containing {PAYLOAD}, "
    f"or install the Copilot SDK with {INSTALL_HINT}"
)


def make_copilot_agent_handler(*, model: str = "gpt-5.5") -> Callable[[TaskContext], str]:
    """A tool-capable single-turn Copilot agent; permission requests are approved."""
    model = check_model(model)

    def run_agent(context: TaskContext) -> str:
        return ask_copilot(context.payload, model=model, timeout=context.timeout, tools=True)

    return run_agent


def agent_template(preset_or_argv: str | Sequence[str]) -> tuple[str, ...]:
    """A preset name, a command line or an argv list -> an argv template with {payload}."""
    if isinstance(preset_or_argv, str):
        template = AGENT_PRESETS.get(preset_or_argv) or tuple(shlex.split(preset_or_argv))
    else:
        template = tuple(preset_or_argv)
    if not template or not all(isinstance(part, str) for part in template):
        raise ValueError(f"agent command must be a non-empty list of str, got {preset_or_argv!r}")
    if not any(PAYLOAD in part for part in template):
        template = (*template, PAYLOAD)
    return template


def make_cli_agent_handler(
    preset_or_argv: str | Sequence[str],
    *,
    cwd: PathOrFactory = None,
    env: EnvOrFactory = None,
    on_output: OutputCallback | None = None,
    keep_output_bytes: int | None = None,
    on_spawn: SpawnCallback | None = None,
    kill_grace: float = 5.0,
    universal_newlines: bool = True,
) -> Callable[[TaskContext], Any]:
    """Run an agent CLI through the shared subprocess runner.

    ``preset_or_argv`` is a preset name (see AGENT_PRESETS), a command line or an argv
    list; each ``{payload}`` is replaced by the task's payload (appended if absent).
    The other options are those of :func:`make_command_handler`.
    """
    template = agent_template(preset_or_argv)

    def agent_argv(context: TaskContext) -> list[str]:
        if shutil.which(template[0]) is None:
            raise HandlerUnavailableError(
                f"AGENT tasks need `{template[0]}` on PATH; install it or pick another "
                f"agent command (presets: {', '.join(AGENT_PRESETS)})"
            )
        return [part.replace(PAYLOAD, context.payload) for part in template]

    return make_command_handler(
        agent_argv,
        cwd=cwd,
        env=env,
        on_output=on_output,
        keep_output_bytes=keep_output_bytes,
        on_spawn=on_spawn,
        kill_grace=kill_grace,
        universal_newlines=universal_newlines,
    )


def make_default_agent_handler() -> Callable[[TaskContext], Any]:
    """WEBAPP_AGENT_COMMAND set: that agent CLI; else the Copilot SDK; else a clear failure."""

    def run_agent(context: TaskContext) -> Any:
        command = os.environ.get("WEBAPP_AGENT_COMMAND", "").strip()
        if command:
            return make_cli_agent_handler(command)(context)
        if copilot_available():
            return make_copilot_agent_handler()(context)
        raise HandlerUnavailableError(NO_AGENT)

    return run_agent
