"""PROMPT tasks: one question to a language model, its answer becomes the task's output.

Two providers: any OpenAI-compatible HTTP endpoint (``/chat/completions``, stdlib urllib)
and the GitHub Copilot SDK. The default handler picks one per call from the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from webapp.engine.context import TaskContext
from webapp.engine.errors import HandlerUnavailableError, TaskTimeoutError
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


def make_http_prompt_handler(
    base_url: str, *, model: str, api_key: str | None = None, timeout: float = 60.0
) -> PromptHandler:
    """POST the payload to ``{base_url}/chat/completions``; return the assistant's text."""
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    model = check_model(model)
    timeout = check_timeout(timeout)
    url = base_url.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"

    def run_prompt(context: TaskContext) -> str:
        import urllib.error  # only prompt tasks pay for urllib
        import urllib.request

        wait = context.timeout or timeout
        message = {"role": "user", "content": context.payload}
        body = json.dumps({"model": model, "messages": [message]}).encode()
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=wait) as response:
                answer = json.loads(response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read(2000).decode("utf-8", "replace").strip()
            raise RuntimeError(f"LLM endpoint {url} answered HTTP {exc.code}: {detail}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise TaskTimeoutError(f"Task timed out after {wait} seconds") from None
            raise RuntimeError(f"cannot reach LLM endpoint {url}: {exc.reason}") from None
        except TimeoutError:
            raise TaskTimeoutError(f"Task timed out after {wait} seconds") from None
        except ValueError as exc:
            raise RuntimeError(f"LLM endpoint {url} did not answer JSON: {exc}") from None
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise RuntimeError(
                f"LLM endpoint {url} answered without choices[0].message.content"
            ) from None
        return content if isinstance(content, str) else ""

    return run_prompt


def make_default_prompt_handler() -> PromptHandler:
    """WEBAPP_LLM_URL set: the HTTP provider; else the Copilot SDK; else a clear failure."""

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
            return make_http_prompt_handler(url, model=model, api_key=api_key)(context)
        if copilot_available():
            return make_copilot_prompt_handler()(context)
        raise HandlerUnavailableError(NO_PROVIDER)

    return run_prompt
