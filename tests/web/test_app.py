"""The app factory, settings precedence, static assets and error pages."""

from __future__ import annotations

import zipfile
from pathlib import Path

from webapp import config, create_app

ROOT = Path(__file__).resolve().parents[2]


def test_home_page_renders_with_css_and_htmx(client):
    page = client.get("/")
    assert page.status_code in (200, 302)
    if page.status_code == 200:
        html = page.get_data(as_text=True)
        assert "/static/app.css" in html
        assert "/static/vendor/htmx.min.js" in html


def test_htmx_is_served_from_its_package(client):
    with client.get("/static/vendor/htmx.min.js") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert b'version:"2.0.' in response.data


def test_stylesheet_is_served(client):
    with client.get("/static/app.css") as response:
        assert response.status_code == 200
        assert b"color-scheme: light dark" in response.data  # follows the system by default


def test_unknown_page_is_a_404_page_not_a_500(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"Not Found" in response.data


def test_settings_precedence_defaults_instance_file_environment(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text("POLL_INTERVAL = 5.0\nWORKER_THREADS = 7\n")
    monkeypatch.setenv("WEBAPP_WORKER_THREADS", "9")
    app = create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True})
    # Load the same settings into an app whose instance folder is ours.
    from flask import Flask

    probe = Flask("webapp", instance_path=str(instance), instance_relative_config=True)
    config.load(probe, {"DATA_DIR": str(tmp_path / "data")})
    assert probe.config["POLL_INTERVAL"] == 5.0  # instance file beats the default
    assert probe.config["WORKER_THREADS"] == 9  # environment beats the instance file
    assert probe.config["LOG_CAP_BYTES"] == config.DEFAULTS["LOG_CAP_BYTES"]
    assert app.config["WORKER_THREADS"] == 9


def test_secret_key_is_generated_once_and_shared(tmp_path):
    first = create_app({"DATA_DIR": str(tmp_path)})
    second = create_app({"DATA_DIR": str(tmp_path)})
    assert first.config["SECRET_KEY"]
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]


def test_every_setting_is_described_and_documented():
    readme = (ROOT / "README.md").read_text()
    assert set(config.DEFAULTS) == set(config.DESCRIPTIONS)
    for name in config.DEFAULTS:
        assert f"WEBAPP_{name}" in readme, f"README does not document WEBAPP_{name}"


def test_wheel_ships_templates_and_static(tmp_path):
    from hatchling.builders.wheel import WheelBuilder

    built = WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])
    wheel = Path(next(built))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "webapp/templates/base.html" in names
    assert "webapp/static/app.css" in names
    assert "webapp/wsgi.py" in names
    assert not any(name.endswith("htmx.min.js") for name in names)
