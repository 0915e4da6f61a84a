"""First start: a ``default`` project, so that whoever signs in first can run a task at once.

It happens together with the first admin (an empty database), never again: an installation
whose admins deleted every project stays that way.
"""

from __future__ import annotations

from flask import Flask

from webapp import orchestration
from webapp.accounts import audit
from webapp.accounts.database import open_accounts
from webapp.orchestration import projects

FIRST_START = "webapp.first_start"
DEFAULT_PROJECT = "default"
SYSTEM_ACTOR = "system"


def create_default_project(app: Flask) -> projects.Project | None:
    """Create ``default`` (on record as the system's doing) unless a project exists."""
    settings = orchestration.Settings.from_config(app.config)  # closed below: nothing is
    try:  # left open in a process that gunicorn forks afterwards
        with orchestration.bind(settings):
            if orchestration.project_list():
                return None
            project = orchestration.project_create(
                DEFAULT_PROJECT, name="Default", actor=SYSTEM_ACTOR
            )
    finally:
        settings.store.close()
    db = open_accounts(app.config["DATABASE"])
    try:
        audit.record(
            db,
            actor=SYSTEM_ACTOR,
            action="project.create",
            target=project.id,
            detail="first start",
            address="",
        )
    finally:
        db.close()
    return project


def init_app(app: Flask) -> None:
    """After the accounts: ``auth.prepare_database`` flags the start that created the admin."""
    if app.extensions.pop(FIRST_START, False):
        create_default_project(app)
