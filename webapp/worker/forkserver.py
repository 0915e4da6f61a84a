"""The fork server: one small process per worker that forks a run supervisor per run.

A worker starts it as ``python -S`` running this file by path (see
:class:`webapp.worker.backends.local.LocalBackend`), so it imports nothing of webapp but
the supervisor and the log writer, each loaded by path without their packages; a fork of
it is cheap. It exits when its worker closes the control socket (or dies).
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any


# -- the fork server --------------------------------------------------------------------------
def _read_request(conn: socket.socket) -> tuple[dict[str, Any] | None, bytearray]:
    """The run's request (one JSON line) and whatever followed it (an early stop frame)."""
    data = bytearray()
    while b"\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None, data
        data += chunk
    end = data.index(b"\n")
    return json.loads(data[:end]), data[end + 1 :]


def supervise(conn: socket.socket) -> int:
    """In a freshly forked child of the fork server: supervise the run asked on ``conn``."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    for sig in (signal.SIGINT, signal.SIGHUP):  # not ignored in the commands it starts
        signal.signal(sig, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    _supervisor_module()._become_subreaper()
    request, early = _read_request(conn)
    if request is None:
        return 1
    conn.settimeout(10.0)  # a worker that stops reading is dropped, the run goes on
    return _supervisor_module().Supervisor(request, conn, early).run()


def serve(control: socket.socket) -> int:
    """Fork one supervisor per socket received on ``control``; return when it closes."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # supervisors are never waited for
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the worker, which closes us
    gc.freeze()  # a forked supervisor's collections never touch (and copy) the server's pages
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 16, 4)
        except InterruptedError:
            continue
        except OSError:
            return 0
        if not message and not fds:
            return 0  # the worker is gone
        for fd in fds:
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    gc.disable()  # a short life with few objects: no collection needed
                    control.close()
                    code = supervise(socket.socket(fileno=fd))
                finally:
                    os._exit(code)
            os.close(fd)


def load_by_path(name: str, path: str) -> Any:
    """Import one module from its file without running its packages' ``__init__`` (the
    fork server stays small): each parent package becomes a bare module whose ``__path__``
    is its folder, so the module's own absolute imports of siblings still work."""
    import importlib
    import types

    folder = Path(path).parent
    parts = name.split(".")
    for depth in range(len(parts) - 1, 0, -1):
        package = ".".join(parts[:depth])
        if package not in sys.modules:
            stub = types.ModuleType(package)
            stub.__path__ = [str(folder)]
            sys.modules[package] = stub
        folder = folder.parent
    return importlib.import_module(name)


def _supervisor_module() -> Any:
    return sys.modules.get("webapp.worker.supervisor") or load_by_path(
        "webapp.worker.supervisor", str(Path(__file__).with_name("supervisor.py"))
    )


def main(argv: list[str] | None = None) -> None:
    """The fork server's entry point: ``main([control socket fd, log writer module, its file])``."""
    argv = sys.argv[1:] if argv is None else argv
    _supervisor_module().set_log_writer(load_by_path(argv[1], argv[2]).LogWriter)
    sys.exit(serve(socket.socket(fileno=int(argv[0]))))
