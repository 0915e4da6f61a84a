"""The web room: blueprints, htmx wiring and error pages."""

from __future__ import annotations

from flask import Flask
from htmx_flask import Htmx

from webapp import orchestration
from webapp.web import (
    account,
    admin,
    api,
    assets,
    auth,
    cluster,
    dashboard,
    errors,
    home,
    ops,
    security,
)


def init_app(app: Flask) -> None:
    ops.init_app(app)  # first: its timer wraps every other hook
    csrf = security.init_app(app)  # the login gate, CSRF, headers
    auth.init_app(app)
    orchestration.init_app(app)  # binds the orchestration settings before each request
    Htmx(app)
    assets.init_app(app)
    errors.init_app(app)
    app.register_blueprint(home.bp)
    dashboard.init_app(app)
    app.register_blueprint(account.bp)
    app.register_blueprint(admin.bp)
    cluster.init_app(app)
    api.init_app(app, csrf)

    @app.context_processor
    def inject_settings() -> dict:
        return {"poll_interval": app.config["POLL_INTERVAL"]}
