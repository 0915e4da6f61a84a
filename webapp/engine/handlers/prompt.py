"""PROMPT tasks: one question to a language model, its answer becomes the task's output.

Two providers: any OpenAI-compatible HTTP endpoint (``/chat/completions``, stdlib urllib)
and the GitHub Copilot SDK. The default handler picks one per call from the environment.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable
from typing import Any

from webapp.engine.context import TaskContext
from webapp.engine.errors import HandlerUnavailableError
from webapp.engine.handlers.chat import (
    DEFAULT_CHAT_TIMEOUT,
    Budget,
    Usage,
    chat_completion,
)
from webapp.engine.handlers.copilot import (
    INSTALL_HINT,
    ask_copilot,
    check_model,
    check_timeout,
    copilot_available,
)

PromptHandler = Callable[[TaskContext], str]
NO_PROVIDER = (
    "PROMPT tasks need a language model: set WEBAPP_LLM_URL to an OpenAI-compatible endpoint "
    "(with WEBAPP_LLM_MODEL, and WEBAPP_LLM_API_KEY if it needs one), or install the Copilot "
    f"SDK with {INSTALL_HINT}"
)


def make_copilot_prompt_handler(
    *, model: str = "gpt-5.4-mini", timeout: float = 60.0
) -> PromptHandler:
    """A no-tools, single-turn Copilot prompt; ``task.timeout`` overrides ``timeout``."""
    model = check_model(model)
    timeout = check_timeout(timeout)

    def run_prompt(context: TaskContext) -> str:
        wait = context.timeout or timeout
        return ask_copilot(context.payload, model=model, timeout=wait, tools=False)

    return run_prompt


UsageCallback = Callable[[TaskContext, Usage], None]
TokenSink = Callable[[TaskContext, str], None]
BudgetFor = Callable[[TaskContext], Budget | None]


def make_http_prompt_handler(
    base_url: str,
    *,
    model: str,
    api_key: str | None = None,
    timeout: float = DEFAULT_CHAT_TIMEOUT,
    stream: bool = True,
    on_token: TokenSink | None = None,
    on_usage: UsageCallback | None = None,
    budget: Budget | BudgetFor | None = None,
) -> PromptHandler:
    """Ask ``{base_url}/chat/completions`` (streamed); return the assistant's text.

    Each token is reported as it arrives, as an OUTPUT event and to ``on_token``;
    ``on_usage`` gets the call's :class:`Usage` (also when it failed part-way);
    ``budget`` (or a function of the context returning one) stops a stream that passes it.
    ``task.timeout`` overrides ``timeout`` and bounds the whole call.
    """
    if (
        not isinstance(base_url, str)
        or not base_url.startswith(("http://", "https://"))
        or not urllib.parse.urlsplit(base_url).hostname
    ):
        raise ValueError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    model = check_model(model)
    timeout = check_timeout(timeout)

    def run_prompt(context: TaskContext) -> str:
        def token(text: str) -> None:
            context.emit_output("stdout", text)
            if on_token is not None:
                on_token(context, text)

        limit = budget(context) if callable(budget) else budget
        try:
            answer, usage = chat_completion(
                base_url, context.payload, model=model, api_key=api_key,
                timeout=context.timeout or timeout, stream=stream, on_token=token,
                budget=limit, set_canceller=context.set_canceller,
            )  # fmt: skip
        except Exception as exc:
            used = getattr(exc, "usage", None)
            if on_usage is not None and used is not None:
                on_usage(context, used)
            raise
        if on_usage is not None:
            on_usage(context, usage)
        return answer

    return run_prompt


def make_default_prompt_handler(**options: Any) -> PromptHandler:
    """WEBAPP_LLM_URL set: the HTTP provider (``options`` go to make_http_prompt_handler);
    else the Copilot SDK; else a clear failure."""

    def run_prompt(context: TaskContext) -> str:
        url = os.environ.get("WEBAPP_LLM_URL", "").strip()
        if url:
            model = os.environ.get("WEBAPP_LLM_MODEL", "").strip()
            if not model:
                raise HandlerUnavailableError(
                    "WEBAPP_LLM_URL is set but WEBAPP_LLM_MODEL is not: "
                    "set it to a model the endpoint serves"
                )
            api_key = os.environ.get("WEBAPP_LLM_API_KEY") or None
            handler = make_http_prompt_handler(url, model=model, api_key=api_key, **options)
            return handler(context)
        if copilot_available():
            return make_copilot_prompt_handler()(context)
        raise HandlerUnavailableError(NO_PROVIDER)

    return run_prompt
