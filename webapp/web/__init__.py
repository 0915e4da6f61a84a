"""The web room: blueprints, htmx wiring and error pages."""

from __future__ import annotations

from flask import Flask
from htmx_flask import Htmx

from webapp.web import assets, dashboard, errors, home


def init_app(app: Flask) -> None:
    Htmx(app)
    assets.init_app(app)
    errors.init_app(app)
    app.register_blueprint(home.bp)
    dashboard.init_app(app)

    @app.context_processor
    def inject_settings() -> dict:
        return {"poll_interval": app.config["POLL_INTERVAL"]}
