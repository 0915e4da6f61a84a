"""Request bodies: a size limit checked before anything is read, and JSON that cannot be
parsed (malformed, or nested deeper than the parser goes) answered as 400, never 500.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with too-deep nesting reported as the ValueError Flask turns into 400."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None


def describe(limit: int) -> str:
    if limit >= 1024 * 1024 and limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


class BodyTooLarge(RequestEntityTooLarge):
    name = "Request body too large"


def too_large(limit: int | None) -> BodyTooLarge:
    shown = describe(limit) if limit else "the limit"
    return BodyTooLarge(
        f"The request body is larger than {shown} (the MAX_CONTENT_LENGTH setting); "
        "send less, or raise the setting."
    )


def refuse_oversized_body():
    """before_request: a declared length over the limit is refused before a byte is read
    (a chunked body is cut off at the limit by Werkzeug as it is read)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    length = request.content_length
    if limit and length is not None and length > limit:
        raise too_large(limit)


def name_the_limit(error: RequestEntityTooLarge):
    from webapp.web.errors import render_error

    if not isinstance(error, BodyTooLarge):
        error = too_large(current_app.config.get("MAX_CONTENT_LENGTH"))
    return render_error(error)


def init_app(app: Flask) -> None:
    app.json = JSONProvider(app)
    # First of all hooks: the login gate or CSRF check must not be what meets a huge body.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_oversized_body)
    app.register_error_handler(RequestEntityTooLarge, name_the_limit)
