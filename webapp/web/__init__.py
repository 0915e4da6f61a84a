"""The web room: every blueprint, registered here and only here, and the web's concerns.

``init_app`` is called once, from ``create_app``, after ``orchestration.init_app``. Each
concern below wires its hooks with its own ``init_app``; none registers a blueprint.
"""

from __future__ import annotations

from flask import Flask
from htmx_flask import Htmx

from webapp.web import (
    account,
    admin,
    api,
    archive,
    assets,
    auditing,
    dashboard,
    errors,
    first_start,
    graphs,
    home,
    models,
    ops,
    project_settings,
    projects,
    rename_preview,
    security,
    sessions,
    signin,
    task_diff,
    tasks,
    tasks_actions,
    tasks_live,
)

#: Every blueprint of the app, in registration order.
BLUEPRINTS = (
    home.bp,
    signin.bp,
    ops.bp,
    account.bp,
    admin.bp,
    projects.bp,
    project_settings.bp,
    tasks.bp,
    tasks_actions.bp,
    rename_preview.bp,
    tasks_live.bp,
    tasks_live.ansi_bp,
    archive.bp,
    graphs.bp,
    task_diff.bp,
    models.bp,
    api.bp,
)


def init_app(app: Flask) -> None:
    ops.init_app(app)  # first: its timer wraps every other hook
    csrf = security.init_app(app)  # the login gate, CSRF, headers
    sessions.init_app(app)  # who the user is: Flask-Login, the accounts database
    auditing.init_app(app)
    Htmx(app)  # request.htmx
    first_start.init_app(app)  # after the accounts: the default project
    assets.init_app(app)
    errors.init_app(app)
    dashboard.init_app(app)
    api.init_app(app, csrf)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.context_processor
    def inject_settings() -> dict:
        return {"poll_interval": app.config["POLL_INTERVAL"]}
