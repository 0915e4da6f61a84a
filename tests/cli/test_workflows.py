"""``webapp workflow save|run|list|show|rerun`` from a shell, with a real worker."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from webapp.cli import main

DIAMOND = """title: diamond
tasks:
  - {key: a, payload: "true"}
  - {key: c, payload: "exit 3", after: [a]}
  - {key: d, payload: "true", after: [c]}
"""


@pytest.fixture
def cli(tmp_path, monkeypatch):
    data = tmp_path / "cli-data"
    monkeypatch.setenv("WEBAPP_DATA_DIR", str(data))
    runner = CliRunner()

    def run(*args: str, ok: bool = True, stdin: str | None = None):
        result = runner.invoke(main, [*args, "--data-dir", str(data)], input=stdin)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def test_save_run_fix_rerun_and_show(cli, tmp_path):
    cli("project", "create", "demo", "--grace", "1")
    saved = cli("workflow", "save", "demo", "-", stdin=DIAMOND).output
    assert "(diamond) version 1" in saved
    started = cli("workflow", "run", "demo", "diamond").output
    first = re.search(r"Started run (\S+) of diamond version 1", started).group(1)
    cli("worker", "--threads", "2", "--exit-when-idle")
    assert "diamond" in cli("workflow", "list", "demo").output
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(DIAMOND.replace("exit 3", "true"))
    assert "version 2" in cli("workflow", "save", "demo", str(fixed),
                              "--workflow", "diamond").output  # fmt: skip
    rerun = cli("workflow", "rerun", "demo", first, "--from", "c").output
    second = re.search(r"run (\S+)$", rerun.strip()).group(1)
    cli("worker", "--threads", "2", "--exit-when-idle")
    shown = cli("workflow", "show", "demo", "diamond").output
    assert re.search(rf"{second}  v2  completed", shown)
    assert re.search(rf"{first}  v1  failed", shown)
    assert "payload: 'true'" in shown or 'payload: "true"' in shown
    bad = cli("workflow", "save", "demo", "-", stdin="- {key: a, payload: x, after: [b]}",
              ok=False)  # fmt: skip
    assert bad.exit_code == 1 and 'unknown dependency "b"' in bad.output
