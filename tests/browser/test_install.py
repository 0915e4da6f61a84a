"""README command 1 the way a user runs it: the wheel installed (not editable) in a fresh
virtual environment, ``webapp serve`` started in a folder that also holds the source tree.

The printed password must open the dashboard (once, gunicorn's workers imported ``./webapp``
from the current folder and signed people in against another database), and the CLI must
act on the same data: ``webapp user reset-password admin`` changes the password that works.
The new environment gets its dependencies from the test environment's site-packages through
a ``.pth`` file (``pip install --no-deps``): the package under test is the installed wheel,
which the test checks, while nothing is downloaded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
PRINTED_PASSWORD = re.compile(r"created the user 'admin' with password (\S+)")
NEW_PASSWORD = re.compile(r"^password: (\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the freshly built wheel installed non-editably; its bin folder."""
    from hatchling.builders.wheel import WheelBuilder

    base = tmp_path_factory.mktemp("install")
    wheel = next(WheelBuilder(str(ROOT)).build(directory=str(base / "dist"), versions=["standard"]))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # Dependencies from the test environment, AFTER the venv's own site-packages on sys.path.
    (Path(site) / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", wheel],
        check=True,
    )  # fmt: skip
    where = subprocess.run(
        [python, "-c", "import webapp, flask; print(webapp.__file__)"],
        check=True, capture_output=True, text=True, cwd=base,  # not ROOT: -c puts "" first
    ).stdout.strip()  # fmt: skip
    assert where.startswith(site), f"webapp came from {where}, not the installed wheel"
    return venv / "bin"


def user_env(home: Path) -> dict[str, str]:
    """A user's environment: no WEBAPP_* settings, a home of its own (the data goes there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBAPP_", "XDG_"))}
    return {**env, "HOME": str(home)}


def sign_in(page: Page, url: str, password: str) -> None:
    page.goto(url + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.fill("#username", "admin")
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page.locator(".account-name")).to_contain_text("admin")


def test_readme_install_prints_a_password_that_signs_in_and_the_cli_resets_it(
    installed, tmp_path, page
):
    home = tmp_path / "home"
    home.mkdir()
    env = user_env(home)
    port = free_port()
    log = tmp_path / "serve.log"
    before = set(os.listdir(ROOT))
    with log.open("w") as out:
        server = subprocess.Popen(
            [installed / "webapp", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        try:
            wait_for_port(port, server)
        except (RuntimeError, TimeoutError) as error:
            raise AssertionError(f"{error}\n{log.read_text()}") from None
        printed = log.read_text()
        data = home / ".local" / "share" / "webapp"
        assert f"webapp: data in {data}" in printed
        assert (data / "webapp.db").is_file()
        url = f"http://127.0.0.1:{port}"
        sign_in(page, url, PRINTED_PASSWORD.findall(printed)[0])
        # First start made a project, so a new task is one click from the landing page.
        page.click("a[data-new-task]")
        expect(page).to_have_url(f"{url}/projects/default/tasks/new")

        reset = subprocess.run(
            [installed / "webapp", "user", "reset-password", "admin"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        new_password = NEW_PASSWORD.search(reset.stdout)[1]
        page.goto(url + "/")  # the reset signed the old session out
        expect(page).to_have_url(re.compile(r"/login"))
        sign_in(page, url, new_password)
        expect(page.locator("h1")).to_have_text("Projects")
    finally:
        server.terminate()
        server.wait(15)
    assert set(os.listdir(ROOT)) == before, "serve wrote into the folder it was started in"
