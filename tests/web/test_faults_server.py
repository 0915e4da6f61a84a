"""Faults against a real gunicorn server (``webapp serve``'s command line) on loopback.

The server runs as an unprivileged user when the suite runs as root (``setpriv`` to
``nobody``): root ignores file permissions, so a chmod'ed database would not be read-only to
it. The data folder is a fresh one under /tmp that user can reach. Measured: a read-only
spell answers 503 (never 500) and every request succeeds again soon after the files are
writable, without a restart; 100 MB bodies get 413 while the worker's RSS stays flat.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.web.conftest import wait_for
from tests.web.live_server import Server, served

ROOT = os.geteuid() == 0
NOBODY = 65534
MB = 1024 * 1024


def _walk(path: Path):
    yield path
    yield from path.rglob("*")


def hand_to_server_user(folder: Path) -> None:
    if ROOT:
        for item in _walk(folder):
            os.chown(item, NOBODY, NOBODY)


def database_files(folder: Path) -> list[Path]:
    return [path for path in folder.glob("webapp.db*") if path.is_file()]


def set_read_only(folder: Path, read_only: bool) -> None:
    for path in database_files(folder):
        path.chmod(0o444 if read_only else 0o644)
    folder.chmod(0o555 if read_only else 0o755)


@pytest.fixture
def data_dir():
    folder = Path(tempfile.mkdtemp(prefix="webapp-faults-"))
    folder.chmod(0o755)
    yield folder
    set_read_only(folder, False)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def app_config(app_config, data_dir):
    return {**app_config, "DATA_DIR": str(data_dir)}


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.fixture
def server(app, demo_task, api_headers, data_dir, tmp_path):
    headers = api_headers("admin")
    hand_to_server_user(data_dir)
    as_user = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--")
    with served(data_dir, tmp_path / "serve.log", headers, prefix=as_user if ROOT else ()) as up:
        yield up


def burst(server: Server, task_id: str, size: int = 16) -> list[tuple[int, dict]]:
    """Reads and writes at once, so every request thread of the worker takes part."""
    calls = [
        ("GET", "/api/v1/projects/demo/tasks", None),
        ("PATCH", f"/api/v1/projects/demo/tasks/{task_id}", {"name": "renamed"}),
        ("POST", "/api/v1/projects/demo/tasks", {"payload": "true", "name": "during"}),
        ("GET", f"/api/v1/projects/demo/tasks/{task_id}", None),
    ]
    with ThreadPoolExecutor(size) as pool:
        return list(pool.map(lambda i: server.call(*calls[i % len(calls)]), range(size)))


def test_a_read_only_spell_ends_by_itself_without_a_restart(server, data_dir, demo_task):
    # ~16 s: the acceptance's 10 s read-only spell, then recovery. Before it, one request at a
    # time (one request thread opens its connection); during it, bursts make the other
    # threads open theirs while the files are read-only, which SQLite keeps read-only.
    assert {status for status, _ in burst(server, demo_task.task_id, size=1)} == {200}
    set_read_only(data_dir, True)
    during: list[tuple[int, dict]] = []
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            during += burst(server, demo_task.task_id)
    finally:
        set_read_only(data_dir, False)
    writable_again = time.monotonic()
    statuses = {status for status, _ in during}
    assert statuses <= {200, 201, 503}, statuses
    refused = [headers for status, headers in during if status == 503]
    assert refused, "the read-only spell should have refused some writes"
    assert all(headers.get("Retry-After") == "5" for headers in refused)

    def every_request_succeeds() -> bool:
        return {status for status, _ in burst(server, demo_task.task_id)} <= {200, 201}

    wait_for(every_request_succeeds, timeout=5)
    recovered_after = time.monotonic() - writable_again
    for _ in range(3):
        assert every_request_succeeds()
    assert server.process.poll() is None and recovered_after < 5


def send_huge(port: int, path: str, content_type: str, size: int, headers: dict) -> int:
    """Declare and start sending a ``size``-byte body; the status the server answers with.

    Sending stops as soon as the answer arrives (or the server closes the connection)."""
    head = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: {content_type}",
        f"Content-Length: {size}",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        "",
    ]
    chunk = b"a" * MB
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall("\r\n".join(head).encode())
        sent = 0
        while sent < size:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable:
                break
            if writable:
                try:
                    sent += sock.send(chunk[: min(MB, size - sent)])
                except OSError:
                    break
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    return int(answer.split(b" ", 2)[1])


def test_100_mb_bodies_get_413_without_being_read(server):
    # ~2 s: two 100 MB bodies offered to a real gunicorn worker.
    (worker,) = server.worker_pids()
    auth = {"Authorization": server.headers["Authorization"]}
    offers = [
        ("/login", "application/x-www-form-urlencoded", {}),
        ("/api/v1/projects/demo/tasks", "application/json", auth),
    ]
    for path, content_type, headers in offers:  # warm up: the 413 page renders once
        assert send_huge(server.port, path, content_type, 5 * MB, headers) == 413
    before = rss_bytes(worker)
    for path, content_type, headers in offers:
        assert send_huge(server.port, path, content_type, 100 * MB, headers) == 413
    growth = rss_bytes(worker) - before
    assert growth < 5 * MB, f"worker RSS grew by {growth / MB:.1f} MB"
    status, _ = server.call("GET", "/api/v1/projects/demo/tasks")
    assert status == 200
