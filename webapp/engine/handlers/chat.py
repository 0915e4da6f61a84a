"""One chat completion against an OpenAI-compatible endpoint, streamed as it arrives.

The request asks for server-sent events (``"stream": true``, usage in the last chunk); each
content delta is handed to ``on_token`` the moment it is read. An endpoint that refuses
streaming (HTTP 400 naming "stream") or answers plain JSON anyway is read whole instead.
The task's timeout bounds the whole call (connect, wait, every chunk): a watchdog closes the
socket at the deadline. Provider failures become :class:`ProviderError` with a message a
person can act on; a 429's ``Retry-After`` rides along for the executor's retry policy.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from webapp.engine.errors import TaskTimeoutError

DEFAULT_CHAT_TIMEOUT = 60.0
_ERROR_BODY_CHARS = 300


class ProviderError(RuntimeError):
    """The LLM endpoint failed the call; ``retry_after`` (s) when it said when to retry."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class BudgetExceeded(RuntimeError):
    """A streaming answer passed its token or cost budget and was stopped."""


@dataclass
class Budget:
    """A limit on tokens and/or cost; ``label`` names it in the failure. ``spent_*`` is what
    earlier runs already used of it (a project's budget spans all of its runs)."""

    label: str
    max_tokens: int | None = None
    max_cost: float | None = None
    prices: Mapping[str, float] | None = None
    """USD per million "prompt" and "completion" tokens (for ``max_cost``)."""
    spent_tokens: int = 0
    spent_cost: float = 0.0

    def check(self, prompt_tokens: int, completion_tokens: int) -> None:
        used = self.spent_tokens + prompt_tokens + completion_tokens
        if self.max_tokens is not None and used > self.max_tokens:
            raise BudgetExceeded(
                f"stopped: the {self.label} of {self.max_tokens} tokens was exceeded "
                f"({used} tokens used)"
            )
        if self.max_cost is not None:
            cost = token_cost(self.prices, prompt_tokens, completion_tokens)
            spent = self.spent_cost + (cost or 0.0)
            if spent > self.max_cost:
                raise BudgetExceeded(
                    f"stopped: the {self.label} of ${self.max_cost:g} was exceeded "
                    f"(${spent:.6f} spent)"
                )


def _check_budgets(budgets: Sequence[Budget], prompt_tokens: int, completion: int) -> None:
    for budget in budgets:
        budget.check(prompt_tokens, completion)


def token_cost(
    prices: Mapping[str, float] | None, prompt_tokens: int | None, completion_tokens: int | None
) -> float | None:
    """USD for the tokens at ``prices`` (per million), or None without prices."""
    if prices is None:
        return None
    return (
        (prompt_tokens or 0) * prices.get("prompt", 0.0)
        + (completion_tokens or 0) * prices.get("completion", 0.0)
    ) / 1_000_000


@dataclass
class Usage:
    """What one call used, as the provider reported it (estimates until it does)."""

    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    first_token_s: float | None = None
    """Seconds from sending the request to the first content token."""
    latency_s: float | None = None
    """Seconds from sending the request to the end of the answer."""
    streamed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


TokenCallback = Callable[[str], None]


class _Call:
    """One HTTP exchange with a deadline and a stop switch (both close the socket)."""

    def __init__(self, url: str, headers: dict[str, str], timeout: float) -> None:
        self.url = url
        self.parts = urllib.parse.urlsplit(url)
        self.headers = headers
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.ended_by: str | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(timeout, self.abort, args=("timeout",))
        self._timer.daemon = True

    def abort(self, why: str) -> None:
        """End the exchange from any thread: the blocked read fails at once."""
        with self._lock:
            if self.ended_by is None:
                self.ended_by = why
            conn = self._conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    def remaining(self) -> float:
        return max(0.001, self.deadline - time.monotonic())

    def post(self, body: dict[str, Any]) -> http.client.HTTPResponse:
        kind = (
            http.client.HTTPSConnection
            if self.parts.scheme == "https"
            else http.client.HTTPConnection
        )
        conn = kind(self.parts.hostname, self.parts.port, timeout=self.remaining())
        with self._lock:
            self._conn = conn
        if not self._timer.is_alive() and self._timer.ident is None:
            self._timer.start()
        path = self.parts.path + (f"?{self.parts.query}" if self.parts.query else "")
        conn.request("POST", path, body=json.dumps(body).encode(), headers=self.headers)
        return conn.getresponse()

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _error_detail(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:_ERROR_BODY_CHARS]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"][:_ERROR_BODY_CHARS]
    if isinstance(error, str):
        return error[:_ERROR_BODY_CHARS]
    return text[:_ERROR_BODY_CHARS]


def http_error(url: str, model: str, status: int, detail: str, retry_after: float | None):
    """A ProviderError whose message says what to do about ``status``."""
    said = f": {detail}" if detail else ""
    if status in (401, 403):
        message = (
            f"LLM endpoint {url} refused the request (HTTP {status}){said} — check the API key "
            "(WEBAPP_LLM_API_KEY)"
        )
    elif status == 404:
        message = (
            f"LLM endpoint {url} does not know model {model!r} (HTTP 404){said} — check "
            "WEBAPP_LLM_MODEL and WEBAPP_LLM_URL"
        )
    elif status == 429:
        wait = f"; it asks to retry after {retry_after:g} s" if retry_after is not None else ""
        message = f"LLM endpoint {url} is rate-limiting requests (HTTP 429){said}{wait}"
    elif status >= 500:
        message = f"LLM endpoint {url} failed on its side (HTTP {status}){said} — try again later"
    else:
        message = f"LLM endpoint {url} answered HTTP {status}{said}"
    return ProviderError(message, status=status, retry_after=retry_after)


def _refuses_streaming(status: int, detail: str) -> bool:
    return status in (400, 415, 422, 501) and "stream" in detail.lower()


def chat_completion(
    base_url: str,
    payload: str,
    *,
    model: str,
    api_key: str | None = None,
    timeout: float = DEFAULT_CHAT_TIMEOUT,
    stream: bool = True,
    on_token: TokenCallback | None = None,
    budget: Budget | Sequence[Budget] | None = None,
    set_canceller: Callable[[Callable[[float | None], None] | None], None] | None = None,
) -> tuple[str, Usage]:
    """Ask ``payload``; return the answer and its usage. Raises ProviderError,
    TaskTimeoutError, BudgetExceeded, or TaskCancelled-worthy RuntimeError on a stop."""
    url = base_url.rstrip("/") + "/chat/completions"
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    budgets = [] if budget is None else [budget] if isinstance(budget, Budget) else list(budget)
    _check_budgets(budgets, 0, 0)  # a budget already spent fails before any request
    call = _Call(url, headers, timeout)
    if set_canceller is not None:
        set_canceller(lambda _grace: call.abort("cancelled"))
    usage = Usage(model=model, extra={"requested_model": model})
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": payload}]}
    started = time.monotonic()
    try:
        try:
            if stream:
                answer = _attempt(call, {**body, "stream": True,
                                         "stream_options": {"include_usage": True}},
                                  usage, started, on_token, budgets, payload)  # fmt: skip
                if answer is None:  # the endpoint refused streaming: ask again, whole
                    call.close()
                    answer = _attempt(call, body, usage, started, on_token, budgets, payload)
            else:
                answer = _attempt(call, body, usage, started, on_token, budgets, payload)
        except (OSError, http.client.HTTPException) as exc:
            if call.ended_by == "timeout" or isinstance(exc, TimeoutError):
                raise TaskTimeoutError(
                    f"Task timed out after {timeout:g} seconds waiting for LLM endpoint {url}"
                ) from None
            if call.ended_by == "cancelled":
                raise ProviderError("stopped while the LLM endpoint was answering") from None
            if isinstance(exc, ConnectionRefusedError):
                raise ProviderError(
                    f"cannot reach LLM endpoint {url}: connection refused — is the server "
                    "running, and is WEBAPP_LLM_URL right?"
                ) from None
            raise ProviderError(f"cannot reach LLM endpoint {url}: {exc}") from None
        if answer is None:
            raise ProviderError(f"LLM endpoint {url} refused the request")
        usage.latency_s = time.monotonic() - started
        return answer, usage
    except (BudgetExceeded, ProviderError, TaskTimeoutError) as exc:
        usage.latency_s = time.monotonic() - started
        exc.usage = usage  # type: ignore[attr-defined] - what was used before it ended
        raise
    finally:
        if set_canceller is not None:
            set_canceller(None)
        call.close()


def _attempt(
    call: _Call,
    body: dict[str, Any],
    usage: Usage,
    started: float,
    on_token: TokenCallback | None,
    budgets: Sequence[Budget],
    payload: str,
) -> str | None:
    """One request; None when it asked to stream and the endpoint refused streaming."""
    response = call.post(body)
    if response.status >= 400:
        raw = response.read(4000)
        detail = _error_detail(raw)
        if body.get("stream") and _refuses_streaming(response.status, detail):
            return None
        raise http_error(call.url, usage.model, response.status, detail,
                         _retry_after(response.getheader("Retry-After")))  # fmt: skip
    kind = (response.getheader("Content-Type") or "").lower()
    if "text/event-stream" in kind:
        usage.streamed = True
        return _read_stream(call, response, usage, started, on_token, budgets, payload)
    return _read_whole(call, response, usage, started, on_token, budgets)


def _read_stream(call, response, usage, started, on_token, budgets, payload) -> str:
    parts: list[str] = []
    estimated_prompt = max(1, len(payload) // 4)
    deltas = 0
    for raw_line in response:
        line = raw_line.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        try:
            chunk = json.loads(data)
        except ValueError:
            raise ProviderError(
                f"LLM endpoint {call.url} sent a malformed event: {data[:80]}"
            ) from None
        if isinstance(chunk, dict) and chunk.get("error"):
            raise ProviderError(f"LLM endpoint {call.url} failed mid-answer: "
                                f"{_error_detail(json.dumps(chunk).encode())}")  # fmt: skip
        _take_usage(chunk, usage)
        for choice in chunk.get("choices") or ():
            text = (choice.get("delta") or {}).get("content")
            if not isinstance(text, str) or not text:
                continue
            if usage.first_token_s is None:
                usage.first_token_s = time.monotonic() - started
            parts.append(text)
            deltas += 1
            if on_token is not None:
                on_token(text)
            if budgets:
                try:
                    _check_budgets(budgets, usage.prompt_tokens or estimated_prompt, deltas)
                except BudgetExceeded:
                    usage.prompt_tokens = usage.prompt_tokens or estimated_prompt
                    usage.completion_tokens = deltas
                    usage.extra["estimated"] = True
                    raise
    if usage.completion_tokens is None:
        usage.completion_tokens = deltas  # one delta per token: the providers' usual grain
        usage.extra["estimated"] = True
    if usage.prompt_tokens is None:
        usage.prompt_tokens = estimated_prompt
        usage.extra["estimated"] = True
    _check_budgets(budgets, usage.prompt_tokens, usage.completion_tokens)
    return "".join(parts)


def _read_whole(call, response, usage, started, on_token, budgets) -> str:
    raw = response.read()
    try:
        answer = json.loads(raw.decode("utf-8", "replace"))
    except ValueError as exc:
        raise ProviderError(f"LLM endpoint {call.url} did not answer JSON: {exc}") from None
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError(
            f"LLM endpoint {call.url} answered without choices[0].message.content"
        ) from None
    content = content if isinstance(content, str) else ""
    usage.first_token_s = time.monotonic() - started
    _take_usage(answer, usage)
    if on_token is not None and content:
        on_token(content)
    if usage.prompt_tokens is not None and usage.completion_tokens is not None:
        _check_budgets(budgets, usage.prompt_tokens, usage.completion_tokens)
    return content


def _take_usage(data: Any, usage: Usage) -> None:
    if not isinstance(data, dict):
        return
    if isinstance(data.get("model"), str) and data["model"]:
        usage.model = data["model"]
    reported = data.get("usage")
    if isinstance(reported, dict):
        for name in ("prompt_tokens", "completion_tokens"):
            value = reported.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(usage, name, value)
