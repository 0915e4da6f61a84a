"""Fixtures shared by every room: an app on a temporary data folder and its test client."""

from __future__ import annotations

import pytest

from webapp import create_app


@pytest.fixture
def app_config(tmp_path) -> dict:
    """Settings for a test app; a test can extend it before ``app`` is built."""
    return {
        "TESTING": True,
        "DATA_DIR": str(tmp_path / "data"),
        "WORKER_ENABLED": False,
        "SECRET_KEY": "test-secret",
    }


@pytest.fixture
def app(app_config):
    return create_app(app_config)


@pytest.fixture
def client(app):
    return app.test_client()
