"""``webapp schedule ...`` and ``webapp notify ...`` from a shell, with the audit log."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from webapp import orchestration as orch
from webapp.accounts import audit
from webapp.cli import main


@pytest.fixture
def shell(tmp_path, monkeypatch):
    data = tmp_path / "cli-data"
    monkeypatch.setenv("WEBAPP_DATA_DIR", str(data))
    runner = CliRunner()

    def run(*args: str, ok: bool = True, **kwargs):
        result = runner.invoke(main, [*args, "--data-dir", str(data)], **kwargs)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    def audit_actions() -> list[tuple[str, str]]:
        settings = orch.Settings.for_data_dir(data)
        try:
            page = audit.query(settings.store.db, limit=50)
        finally:
            settings.store.close()
        return [(entry.action, entry.target) for entry in page.items]

    run.audit_actions = audit_actions
    run("project", "create", "demo")
    return run


def test_schedules_from_a_shell(shell):
    made = shell("schedule", "create", "demo", "nightly", "--cron", "0 2 * * *",
                 "--timezone", "Europe/Berlin", "make", "build").output  # fmt: skip
    assert "nightly" in made and made.count("\n  ") == 5 and made.count("02:00 CET") == 6
    assert "active" in shell("schedule", "list", "demo").output
    assert "paused" in shell("schedule", "pause", "demo", "nightly").output
    assert "active" in shell("schedule", "resume", "demo", "nightly").output
    bad = shell("schedule", "create", "demo", "x", "--cron", "61 * * * *", "true", ok=False)
    assert bad.exit_code == 2 and "minute field" in bad.output and "--cron" in bad.output
    assert "deleted nightly" in shell("schedule", "delete", "demo", "nightly").output


def test_channels_from_a_shell_never_print_the_url(shell):
    url = "https://hooks.example.org/services/TOPSECRET"
    added = shell("notify", "add", "demo", "ops", "--kind", "slack", "--target", url).output
    assert "TOPSECRET" not in added and "hooks.example.org" in added
    listed = shell("notify", "list", "demo").output
    assert "ops" in listed and "TOPSECRET" not in listed
    assert "removed ops" in shell("notify", "remove", "demo", "ops").output
    refused = shell("notify", "test", "demo", "ops", ok=False)
    assert refused.exit_code != 0 and "No notification channel 'ops'" in refused.output


def test_cli_changes_are_in_the_audit_log(shell):
    shell("schedule", "create", "demo", "hourly", "--every", "3600", "true")
    shell("notify", "add", "demo", "mail", "--kind", "email", "--target", "a@example.org")
    shell("schedule", "delete", "demo", "hourly")
    actions = shell.audit_actions()
    for expected in [
        ("schedule.create", "demo/hourly"),
        ("notification.create", "demo/mail"),
        ("schedule.delete", "demo/hourly"),
    ]:
        assert expected in actions
