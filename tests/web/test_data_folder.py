"""One data folder for every entry point: WEBAPP_DATA_DIR, else the per-user data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import webapp
from webapp import config, create_app, orchestration
from webapp.accounts import audit
from webapp.store.db import open_database


@pytest.fixture
def user_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("WEBAPP_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_default_is_the_per_user_data_folder_never_the_package(user_home):
    app = create_app({"CREATE_FIRST_ADMIN": False})
    expected = user_home / ".local" / "share" / "webapp"
    assert app.config["DATA_DIR"] == str(expected)
    assert app.config["DATABASE"] == str(expected / "webapp.db")
    package = Path(webapp.__file__).resolve().parent
    assert package not in expected.parents and Path.cwd() not in expected.parents


def test_xdg_data_home_and_the_environment_choose_it(user_home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert config.resolve_data_dir() == tmp_path / "xdg" / "webapp"
    monkeypatch.setenv("WEBAPP_DATA_DIR", str(tmp_path / "chosen"))
    assert config.resolve_data_dir() == tmp_path / "chosen"
    assert config.resolve_data_dir({"DATA_DIR": str(tmp_path / "given")}) == tmp_path / "given"


def test_the_config_file_is_read_from_the_data_folder(user_home, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.py").write_text("POLL_INTERVAL = 7.5\n")
    app = create_app({"DATA_DIR": str(data), "CREATE_FIRST_ADMIN": False})
    assert app.config["POLL_INTERVAL"] == 7.5


def test_first_start_creates_the_default_project_once_and_on_record(tmp_path):
    settings = {"DATA_DIR": str(tmp_path / "data"), "PASSWORD_HASH_PROFILE": "CHEAPEST"}
    app = create_app(settings)
    with orchestration.bind(orchestration.settings_of(app)):
        assert [p.id for p in orchestration.project_list()] == ["default"]
        orchestration.project_create("other", actor="test")
    db = open_database(app.config["DATABASE"])
    entry = audit.query(db, action="project.").items[0]
    db.close()
    assert (entry.actor, entry.action, entry.target) == ("system", "project.create", "default")
    again = create_app(settings)  # a later start: the admin exists, nothing is added
    with orchestration.bind(orchestration.settings_of(again)):
        assert [p.id for p in orchestration.project_list()] == ["default", "other"]


def test_serve_hands_gunicorn_the_settings_it_printed(tmp_path):
    from webapp.cli.serve import DashboardServer, gunicorn_options

    resolved = {
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE": str(tmp_path / "x.db"),
        "SECRET_KEY": "k",
        "CREATE_FIRST_ADMIN": False,
        "WORKER_ENABLED": False,
    }
    server = DashboardServer(gunicorn_options("127.0.0.1", 8123, 2, 4), resolved)
    assert server.cfg.bind == ["127.0.0.1:8123"] and server.cfg.workers == 2
    app = server.load()
    assert app.config["DATABASE"] == str(tmp_path / "x.db")
    assert app.config["DATA_DIR"] == str(tmp_path / "data")


def open_files_under(folder: Path) -> list[str]:
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            names.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue  # the listing's own descriptor, closed meanwhile
    return [name for name in names if name.startswith(str(folder))]


def test_serve_prepares_the_database_and_keeps_no_connection_open_for_the_fork(
    tmp_path, monkeypatch
):
    from webapp.cli.serve import prepare

    monkeypatch.setenv("WEBAPP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WEBAPP_PASSWORD_HASH_PROFILE", "CHEAPEST")
    resolved, messages = prepare()
    assert resolved["DATA_DIR"] == str(tmp_path / "data")
    assert "created the user 'admin'" in messages[0]
    assert open_files_under(tmp_path / "data") == []


def test_serve_points_at_data_an_older_version_left_in_the_current_folder(tmp_path, monkeypatch):
    from webapp.cli.serve import old_data_hints

    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "webapp.db").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    [hint] = old_data_hints(tmp_path / "data")
    assert f"{tmp_path / 'instance'} holds data of an older version" in hint
    assert f"--data-dir {tmp_path / 'instance'}" in hint
    assert old_data_hints(tmp_path / "instance") == []
