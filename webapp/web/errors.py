"""Error pages: every 4xx names what was wrong; JSON for API clients."""

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
    if wants_json():
        return {"error": error.name, "detail": detail}, error.code
    return render_template("errors/error.html", error=error, detail=detail), error.code


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, render_error)
