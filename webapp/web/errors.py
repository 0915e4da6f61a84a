"""Error pages: every 4xx names what was wrong; JSON for API clients.

An error's own headers go with its page (``Allow`` on a 405, ``Retry-After`` on a 503).
"""

from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes["text/html"]


def render_error(error: HTTPException):
    detail = error.description if error.description else error.name
    headers = [(name, value) for name, value in error.get_headers() if name != "Content-Type"]
    if wants_json():
        return {"error": error.name, "detail": detail}, error.code, headers
    page = render_template("errors/error.html", error=error, detail=detail)
    return page, error.code, headers


def init_app(app: Flask) -> None:
    from webapp.web import bodies, faults

    app.register_error_handler(HTTPException, render_error)
    bodies.init_app(app)
    faults.init_app(app)
