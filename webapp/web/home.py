"""The landing page: the projects overview."""

from __future__ import annotations

from flask import Blueprint

from webapp.web import projects

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return projects.index()
