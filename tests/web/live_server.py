"""A real server (``webapp serve``: gunicorn) on loopback, for tests that need one: faults,
body limits, schemathesis over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.web.conftest import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, port: int, process: subprocess.Popen, token_headers: dict):
        self.port, self.process, self.headers = port, process, token_headers
        self.url = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = dict(self.headers)
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status, dict(response.getheaders())
        finally:
            connection.close()

    def worker_pids(self) -> list[int]:
        """The gunicorn worker processes (children of the master this test started)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    pids.append(int(entry.name))
        return pids


@contextmanager
def served(
    data_dir: Path, log: Path, token_headers: dict, *, prefix: tuple[str, ...] = (), **env: str
) -> Iterator[Server]:
    """``webapp serve`` with one worker process on ``data_dir``, until the block ends.
    ``prefix`` runs it through another command (``setpriv`` ...)."""
    port = free_port()
    environment = {
        **os.environ,
        "WEBAPP_DATA_DIR": str(data_dir),
        "WEBAPP_WORKER_ENABLED": "false",
        "WEBAPP_SECRET_KEY": "live-server-test",
        **env,
    }
    serve = ["serve", "--port", str(port), "--workers", "1", "--threads", "8"]
    argv = [*prefix, sys.executable, "-m", "webapp.cli", *serve]
    with log.open("w") as out:
        process = subprocess.Popen(argv, env=environment, stdout=out, stderr=subprocess.STDOUT)
    server = Server(port, process, token_headers)
    try:
        wait_for(lambda: _answers(server, log), timeout=30)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(server: Server, log: Path) -> bool:
    if server.process.poll() is not None:
        raise AssertionError(f"server exited with {server.process.returncode}:\n{log.read_text()}")
    try:
        return server.call("GET", "/healthz")[0] == 200 and len(server.worker_pids()) == 1
    except OSError:
        return False
