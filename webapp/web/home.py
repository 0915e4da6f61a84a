"""The landing page: the projects overview."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return redirect(url_for("projects.index"))
