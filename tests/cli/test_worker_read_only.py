"""``webapp worker`` on a database it cannot write exits with one clear line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NOBODY = 65534


def test_worker_on_a_read_only_database_says_so_in_one_line():
    # ~2 s: two CLI processes. As root (which ignores permissions) the worker runs as nobody.
    folder = Path(tempfile.mkdtemp(prefix="webapp-ro-"))
    try:
        env = {**os.environ, "WEBAPP_DATA_DIR": str(folder)}
        cli = [sys.executable, "-m", "webapp.cli"]
        subprocess.run([*cli, "project", "list"], env=env, check=True, capture_output=True)
        files = [path for path in folder.iterdir() if path.name.startswith("webapp.db")]
        for path in [folder, *folder.iterdir()]:
            if os.geteuid() == 0:
                os.chown(path, NOBODY, NOBODY)
        for path in files:
            path.chmod(0o444)
        folder.chmod(0o555)
        argv = [*cli, "worker", "--exit-when-idle"]
        if os.geteuid() == 0:
            argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)
    assert done.returncode == 1
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert "read-only" in lines[0] and str(folder) in lines[0]
    assert "Traceback" not in done.stderr
