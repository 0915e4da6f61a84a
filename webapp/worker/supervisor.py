"""The run supervisor: one process per run that owns the run's whole process tree.

A worker process starts one *fork server* (this file, loaded by path into a bare
``python -S``: a small single-threaded interpreter, once) and hands it one socket per run;
the fork server forks a supervisor for it, which costs a fork of a small process instead of
a fresh interpreter. It imports nothing of webapp but the log writer (loaded by path too:
its module needs only the standard library). The supervisor:

- leaves the worker's session (``setsid``), so killing the worker or its process group
  never kills a run, and makes itself a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``),
  so every descendant, ``setsid``/daemonised ones included, stays in its tree;
- starts the command in its own process group and streams its stdout and stderr to the
  run's log file (so output keeps flowing when the worker is gone);
- on a stop (a message from its worker, or SIGTERM from any worker) or a timeout, sends
  SIGTERM to every descendant and SIGKILL to those left after the grace period; when the
  command exits by itself, leftovers are ended the same way (unless ``keep_daemons``);
  it exits only once it has no descendant left (a subreaper without children has none);
- writes the run's state file (``runs/<run_no>.json`` in the task's folder) when the
  command starts, and its exit status and times (``runs/<run_no>.exit.json``) before it
  exits; each atomically, under a new name (no rename over an existing file, which ext4
  turns into a data flush).

The worker side (starting runs, waiting for them, reattaching) is
:mod:`webapp.worker.backends.local`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

PR_SET_CHILD_SUBREAPER = 36
#: Frames on a run's socket: one type byte, a 4-byte length, the payload.
HEADER = struct.Struct("!cI")
STARTED, EXITED, STOP = b"S", b"X", b"T"
_READ_SIZE = 65536
_KILL_CHECK = 0.05  # how often a tree being killed is checked again
_DRAIN = 1.0  # pipes still open this long after the tree is gone (or kept): stop reading


# -- the process tree -------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (``/proc/<pid>/task/*/children``)."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                found.extend(int(word) for word in fh.read().split())
        except (OSError, ValueError):
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, parents before their children."""
    seen: list[int] = []
    known: set[int] = set()
    stack = [pid]
    while stack:
        for child in children(stack.pop()):
            if child not in known:
                known.add(child)
                seen.append(child)
                stack.append(child)
    return seen


def signal_tree(root: int, sig: int, pgid: int | None = None) -> int:
    """Send ``sig`` to every descendant of ``root`` (and to the group ``pgid``); how many."""
    targets = descendants(root)
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for pid in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    return len(targets)


def _become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write a run's state file atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(state, fh)
    os.replace(tmp, path)


def exit_path(state_path: Path) -> Path:
    """Where a run's supervisor writes its final state (next to the start state)."""
    return Path(state_path).with_name(f"{Path(state_path).stem}.exit.json")


def proc_start(pid: int) -> str | None:
    """``/proc/<pid>/stat`` field 22 (start ticks) of a live process, else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    return None if fields[0] in (b"Z", b"X") else fields[19].decode()


# -- framing ----------------------------------------------------------------------------------
def send_frame(sock: socket.socket, kind: bytes, payload: bytes = b"") -> None:
    sock.sendall(HEADER.pack(kind, len(payload)) + payload)


def read_frame(sock: socket.socket, buffer: bytearray) -> tuple[bytes, bytes] | None:
    """Take one whole frame out of ``buffer`` (filled by the caller), or None."""
    if len(buffer) < HEADER.size:
        return None
    kind, size = HEADER.unpack_from(buffer)
    if len(buffer) < HEADER.size + size:
        return None
    payload = bytes(buffer[HEADER.size : HEADER.size + size])
    del buffer[: HEADER.size + size]
    return kind, payload


class _Tail:
    """The last ``limit`` bytes of a stream (whole lines where possible)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self.parts: deque[bytes] = deque()
        self.size = 0

    def add(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)
        while self.size - len(self.parts[0]) >= self.limit and len(self.parts) > 1:
            self.size -= len(self.parts.popleft())

    def text(self) -> str:
        data = b"".join(self.parts)[-self.limit :] if self.limit else b""
        return data.decode("utf-8", "replace")


# -- one run ----------------------------------------------------------------------------------
class Supervisor:
    """Runs one command to its end; ``run()`` returns the supervisor's exit code."""

    def __init__(
        self, request: dict[str, Any], conn: socket.socket | None, early: bytes = b""
    ) -> None:
        self.request = request
        self.early = bytearray(early)
        self.conn = conn
        self.state_path = Path(request["state_path"])
        self.grace = float(request.get("grace", 10.0))
        self.keep_daemons = bool(request.get("keep_daemons"))
        self.log = None
        self.log_error: str | None = None
        self.tails = {
            "stdout": _Tail(int(request.get("keep_bytes", 65536))),
            "stderr": _Tail(int(request.get("keep_bytes", 65536))),
        }
        self.reason = "exited"  # or "stopped", "timeout", "error"
        self.kill_at: float | None = None
        self.killing = False
        self.returncode: int | None = None
        self.state: dict[str, Any] = {}
        self._stop_signalled = False

    # the log -------------------------------------------------------------------------------
    def _write(self, stream: str, data: bytes) -> None:
        self.tails[stream].add(data)
        try:
            if self.log is None:
                self.log = _log_writer()(
                    self.request["log_path"], cap_bytes=self.request["cap_bytes"]
                )
            self.log.write(data, stream)
        except (OSError, ValueError) as exc:
            self.log_error = self.log_error or str(exc)  # reported in the final state

    def _send(self, kind: bytes, payload: dict[str, Any]) -> None:
        if self.conn is None:
            return
        try:
            send_frame(self.conn, kind, json.dumps(payload).encode())
        except OSError:
            self._disconnect()

    def _disconnect(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()
            self.conn = None

    # stopping ------------------------------------------------------------------------------
    def stop(self, grace: float | None, reason: str = "stopped") -> None:
        """SIGTERM to the whole tree now, SIGKILL once ``grace`` has passed."""
        grace = self.grace if grace is None else max(0.0, grace)
        kill_at = time.monotonic() + grace
        if self.kill_at is not None and self.kill_at <= kill_at:
            return
        if self.kill_at is None and self.reason == "exited" and self.returncode is None:
            self.reason = reason
        first = self.kill_at is None
        self.kill_at = kill_at
        if first:
            signal_tree(os.getpid(), signal.SIGTERM, self.pgid)

    def _reap(self) -> bool:
        """Reap every exited child; True while any child (so any descendant) is left."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                self.finished_at = time.time()

    # the loop ------------------------------------------------------------------------------
    def run(self) -> int:
        request = self.request
        self.started_at = time.time()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            proc = subprocess.Popen(
                request["argv"], stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w,
                cwd=request.get("cwd") or None, env=request.get("env"), process_group=0,
            )  # fmt: skip
        except OSError as exc:
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            self.reason, self.error = "error", str(exc)
            return self._finish(started=False)
        os.close(out_w)
        os.close(err_w)
        proc.returncode = 0  # waited for here, never by Popen
        self.pid = self.pgid = proc.pid
        self.state = {
            "run_id": request.get("run_id"), "supervisor_pid": os.getpid(),
            "supervisor_start": proc_start(os.getpid()), "pid": proc.pid, "pgid": proc.pid,
            "proc_start": proc_start(proc.pid), "started_at": self.started_at,
        }  # fmt: skip
        with contextlib.suppress(OSError):
            write_state(self.state_path, self.state)
        self._send(STARTED, self.state)
        self._loop({out_r: "stdout", err_r: "stderr"}, request.get("timeout"))
        return self._finish(started=True)

    def _loop(self, pipes: dict[int, str], timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        selector = selectors.DefaultSelector()
        for fd in pipes:
            selector.register(fd, selectors.EVENT_READ)
        selector.register(wake_r, selectors.EVENT_READ)
        if self.conn is not None:
            selector.register(self.conn, selectors.EVENT_READ)
        inbox = self.early
        self._frames(inbox)
        give_up_at: float | None = None
        self.finished_at = None
        alive = True
        while True:
            alive = self._reap()
            now = time.monotonic()
            if self._stop_signalled:
                self._stop_signalled = False
                self.stop(None)
            if deadline is not None and self.returncode is None and now >= deadline:
                deadline = None
                self.stop(None, "timeout")
            finished = self.returncode is not None and alive and self.kill_at is None
            if finished and not self.keep_daemons:
                self.stop(self.grace, "exited")  # leftovers of a finished command
            if self.kill_at is not None and alive and now >= self.kill_at:
                signal_tree(os.getpid(), signal.SIGKILL, self.pgid)
            if self.returncode is not None and (not alive or self.keep_daemons):
                if not pipes:
                    break
                if give_up_at is None:
                    give_up_at = now + _DRAIN
                elif now >= give_up_at:
                    break  # something outside the tree (or a kept daemon) holds a pipe
            wait = 0.25
            if self.kill_at is not None and alive:
                wait = _KILL_CHECK if now >= self.kill_at else min(wait, self.kill_at - now)
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - now))
            if give_up_at is not None:
                wait = min(wait, max(0.0, give_up_at - now))
            for key, _ in selector.select(wait):
                fd = key.fileobj
                if fd == wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 512)
                elif self.conn is not None and fd is self.conn:
                    self._from_worker(selector, inbox)
                else:
                    data = os.read(fd, _READ_SIZE)
                    if data:
                        self._write(pipes[fd], data)
                    else:
                        selector.unregister(fd)
                        os.close(fd)
                        del pipes[fd]
        for fd in pipes:
            os.close(fd)
        signal.set_wakeup_fd(-1)
        selector.close()
        os.close(wake_r)
        os.close(wake_w)

    def _on_sigterm(self, *_: Any) -> None:
        self._stop_signalled = True

    def _from_worker(self, selector: selectors.BaseSelector, inbox: bytearray) -> None:
        try:
            data = self.conn.recv(4096)
        except OSError:
            data = b""
        if not data:  # the worker is gone: carry on, the state file tells the next one
            selector.unregister(self.conn)
            self._disconnect()
            return
        inbox += data
        self._frames(inbox)

    def _frames(self, inbox: bytearray) -> None:
        while (frame := read_frame(self.conn, inbox)) is not None:
            kind, payload = frame
            if kind == STOP:
                grace = json.loads(payload or b"{}").get("grace")
                self.stop(grace)

    def _finish(self, *, started: bool) -> int:
        if self.log is not None:
            with contextlib.suppress(OSError, ValueError):
                self.log.close()
        finished = self.finished_at or time.time()
        self.state.update({
            "run_id": self.request.get("run_id"), "started_at": self.started_at,
            "finished_at": finished, "duration": max(0.0, finished - self.started_at),
            "returncode": self.returncode if started else None, "reason": self.reason,
            "error": getattr(self, "error", None), "stdout": self.tails["stdout"].text(),
            "stderr": self.tails["stderr"].text(),
            "log_truncated": bool(self.log is not None and self.log.truncated),
            "log_error": self.log_error,
        })  # fmt: skip
        with contextlib.suppress(OSError):
            write_state(exit_path(self.state_path), self.state)
        self._send(EXITED, self.state)
        self._disconnect()
        return 0


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
    _become_subreaper()
    request, early = _read_request(conn)
    if request is None:
        return 1
    conn.settimeout(10.0)  # a worker that stops reading is dropped, the run goes on
    return Supervisor(request, conn, early).run()


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


_LOG_WRITER: Any = None


def _log_writer() -> Any:
    """The LogWriter class (preloaded by the fork server; imported when run in-process)."""
    global _LOG_WRITER
    if _LOG_WRITER is None:
        from webapp.orchestration.logs import LogWriter

        _LOG_WRITER = LogWriter
    return _LOG_WRITER


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


def main(argv: list[str] | None = None) -> None:
    """The fork server's entry point: ``main([control socket fd, log writer module, its file])``."""
    global _LOG_WRITER
    argv = sys.argv[1:] if argv is None else argv
    _LOG_WRITER = load_by_path(argv[1], argv[2]).LogWriter
    sys.exit(serve(socket.socket(fileno=int(argv[0]))))
