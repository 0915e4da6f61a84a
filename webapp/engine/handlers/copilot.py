"""The GitHub Copilot SDK (optional extra ``webapp[copilot]``), imported only when used."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

from webapp.engine.errors import HandlerUnavailableError

INSTALL_HINT = "pip install 'webapp[copilot]' (the github-copilot-sdk package)"


def copilot_available() -> bool:
    """True if the Copilot SDK can be imported here (or is already imported)."""
    if sys.modules.get("copilot") is not None:
        return True  # find_spec raises ValueError for an imported module without __spec__
    try:
        return importlib.util.find_spec("copilot") is not None
    except (ImportError, ValueError):
        return False


def _sdk() -> Any:
    try:
        return importlib.import_module("copilot")
    except ImportError as exc:
        raise HandlerUnavailableError(
            f"Copilot tasks need the GitHub Copilot SDK: {INSTALL_HINT}, "
            "then authenticate the Copilot CLI"
        ) from exc


def _approve_all(sdk: Any) -> Any:
    handler = getattr(sdk, "PermissionHandler", None)
    if handler is None:
        handler = importlib.import_module("copilot.session").PermissionHandler
    return handler.approve_all


def ask_copilot(payload: str, *, model: str, timeout: float | None, tools: bool) -> str:
    """One single-turn Copilot session; returns the assistant's message text ("" if none)."""
    import asyncio  # only Copilot tasks pay for it

    sdk = _sdk()

    async def converse() -> Any:
        options: dict[str, Any] = {"on_permission_request": _approve_all(sdk), "model": model}
        if not tools:
            options["available_tools"] = []
        async with (
            sdk.CopilotClient() as client,
            await client.create_session(**options) as session,
        ):
            return await session.send_and_wait(payload, timeout=timeout)

    return _message_text(_run_to_completion(asyncio, converse))


def _run_to_completion(asyncio: Any, coroutine_factory: Any) -> Any:
    """``asyncio.run`` on this thread, or on a private thread when this one runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine_factory())
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="copilot") as pool:
        return pool.submit(lambda: asyncio.run(coroutine_factory())).result()


def _message_text(response: Any) -> str:
    """The assistant message's text; "" for no answer or any other kind of event."""
    data = getattr(response, "data", None)
    try:
        from copilot.generated.session_events import AssistantMessageData
    except ImportError:  # an SDK without generated event types: duck-type it
        pass
    else:
        if not isinstance(data, AssistantMessageData):
            return ""
    content = getattr(data, "content", None)
    return content if isinstance(content, str) else ""


def check_model(model: object) -> str:
    if not isinstance(model, str) or not model.strip():
        raise ValueError("model must not be empty")
    return model


def check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError("timeout must be greater than 0")
    return float(timeout)
