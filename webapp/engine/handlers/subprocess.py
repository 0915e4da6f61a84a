"""One subprocess runner for every process-backed handler (bash, pwsh, agent CLIs).

The process runs in its own process group. Its stdout and stderr are read on the calling
thread with a selector (no reader threads), decoded as UTF-8 (bad bytes become U+FFFD), with
universal newlines by default ("\r\n" and a lone "\r" become "\n", as in Python's text mode),
and reported line by line, in arrival order, as OUTPUT events and to ``on_output``. A timeout or
a cancel sends SIGTERM to the whole group and SIGKILL after a grace period. Pipes are always
closed and the process always reaped.
"""

from __future__ import annotations

import codecs
import io
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from functools import lru_cache
from pathlib import Path

from webapp.engine.context import TaskContext
from webapp.engine.errors import TaskCancelled, TaskExecutionError, TaskTimeoutError

OutputCallback = Callable[[TaskContext, str, str], object]
SpawnCallback = Callable[[TaskContext, int], object]
PathOrFactory = str | Path | Callable[[TaskContext], str | Path | None] | None
EnvOrFactory = Mapping[str, str] | Callable[[TaskContext], Mapping[str, str] | None] | None

_WAKE_INTERVAL = 0.25  # how often a quiet run looks at stop requests and deadlines
_DRAIN_AFTER_KILL = 1.0  # pipes still open this long after SIGKILL: stop reading anyway
_READ_SIZE = 65536


@lru_cache(maxsize=64)
def _resolve(program: str, path: str) -> str:
    """``program``'s full path on ``path`` (cached: saves the child a walk through PATH)."""
    if os.sep in program:
        return program
    return shutil.which(program, path=path) or program


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False if it no longer exists."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class _Stopper:
    """Stop requests for one process group, callable from any thread."""

    def __init__(self, pgid: int, kill_grace: float) -> None:
        self.pgid = pgid
        self.kill_grace = kill_grace
        self.kill_at: float | None = None
        self.killed = False
        self._lock = threading.Lock()

    def __call__(self, grace: float | None = None) -> None:
        """SIGTERM now; SIGKILL once ``grace`` (default: kill_grace) seconds have passed."""
        grace = self.kill_grace if grace is None else max(0.0, grace)
        with self._lock:
            kill_at = time.monotonic() + grace
            if self.kill_at is not None and self.kill_at <= kill_at:
                return
            first = self.kill_at is None
            self.kill_at = kill_at
        if first:
            signal_group(self.pgid, signal.SIGTERM)
        if grace == 0:
            self.kill()

    @property
    def requested(self) -> bool:
        return self.kill_at is not None

    def kill(self) -> None:
        self.killed = True
        signal_group(self.pgid, signal.SIGKILL)


class _Collector:
    """Splits one stream into lines, reports them, and keeps (the tail of) the text."""

    def __init__(self, name, context, on_output, keep_bytes, universal_newlines) -> None:  # noqa: ANN001
        self.name = name
        self.context = context
        self.on_output = on_output
        self.keep_bytes = keep_bytes
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        if universal_newlines:  # holds back a trailing "\r" until it knows what follows
            self.decoder = io.IncrementalNewlineDecoder(self.decoder, translate=True)
        self.partial = ""
        self.kept: deque[str] = deque()
        self.kept_size = 0

    def feed(self, data: bytes) -> None:
        text = self.partial + self.decoder.decode(data)
        start = 0
        newline = text.find("\n")
        while newline != -1:
            self._line(text[start : newline + 1])
            start = newline + 1
            newline = text.find("\n", start)
        self.partial = text[start:]

    def close(self) -> None:
        text = self.partial + self.decoder.decode(b"", final=True)
        self.partial = ""
        if text:
            self._line(text)

    def _line(self, line: str) -> None:
        self.kept.append(line)
        if self.keep_bytes is not None:
            self.kept_size += len(line.encode("utf-8", "replace"))
            while self.kept_size > self.keep_bytes and len(self.kept) > 1:
                self.kept_size -= len(self.kept.popleft().encode("utf-8", "replace"))
        self.context.emit_output(self.name, line)
        if self.on_output is not None:
            self.on_output(self.context, self.name, line)

    def text(self) -> str:
        text = "".join(self.kept)
        if self.keep_bytes is not None and self.kept_size > self.keep_bytes:
            tail = text.encode("utf-8", "replace")[-self.keep_bytes :]
            text = tail.decode("utf-8", "replace")
        return text


def run_process(
    argv: Sequence[str],
    context: TaskContext,
    *,
    timeout: float | None = None,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    on_output: OutputCallback | None = None,
    on_spawn: SpawnCallback | None = None,
    keep_output_bytes: int | None = None,
    kill_grace: float = 5.0,
    universal_newlines: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` for ``context``'s task and return its CompletedProcess.

    ``universal_newlines=False`` keeps "\r" and "\r\n" as the process wrote them.

    Raises TaskCancelled (the task was cancelled), TaskTimeoutError (``timeout`` passed) or
    TaskExecutionError (non-zero exit; message = stderr or "exited with code N"); each
    carries the partial CompletedProcess as ``.completed``.
    """
    argv = list(argv)
    program = _resolve(argv[0], (os.environ if env is None else env).get("PATH", os.defpath))
    proc = subprocess.Popen(
        [program, *argv[1:]],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=None if env is None else dict(env),
        start_new_session=True,
    )
    stop = _Stopper(proc.pid, kill_grace)
    out = _Collector("stdout", context, on_output, keep_output_bytes, universal_newlines)
    err = _Collector("stderr", context, on_output, keep_output_bytes, universal_newlines)
    timed_out = False
    try:
        context.set_canceller(stop)
        if on_spawn is not None:
            on_spawn(context, proc.pid)
        if context.cancelled:
            stop()
        timed_out = _pump(proc, stop, {proc.stdout: out, proc.stderr: err}, timeout)
    except BaseException:
        stop.kill()
        raise
    finally:
        context.set_canceller(None)
        for stream in (proc.stdout, proc.stderr):
            stream.close()
        if proc.returncode is None:
            stop.kill()
        proc.wait()
    completed = subprocess.CompletedProcess(argv, proc.returncode, out.text(), err.text())
    if stop.requested and not timed_out or context.cancelled:
        raise TaskCancelled(f"Task {context.id!r} was cancelled", completed)
    if timed_out:
        raise TaskTimeoutError(f"Task timed out after {timeout} seconds", completed)
    if proc.returncode != 0:
        message = completed.stderr or f"exited with code {proc.returncode}"
        raise TaskExecutionError(message, completed)
    return completed


def _exit_fd(pid: int) -> int | None:
    """A file descriptor that becomes readable when ``pid`` exits (Linux pidfd), or None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _pump(proc: subprocess.Popen, stop: _Stopper, collectors: dict, timeout: float | None) -> bool:
    """Read both pipes until EOF and the process exits; returns True if it timed out.

    Waits on one selector for output and for the process's exit (a pidfd), so nothing
    polls while the process runs; it wakes every 0.25 s only to honour stop requests.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    timed_out = False
    give_up_at: float | None = None
    exit_fd = _exit_fd(proc.pid)
    open_pipes = len(collectors)
    with selectors.DefaultSelector() as selector:
        for stream in collectors:
            selector.register(stream, selectors.EVENT_READ)
        if exit_fd is not None:
            selector.register(exit_fd, selectors.EVENT_READ)
        try:
            while open_pipes or proc.returncode is None:
                now = time.monotonic()
                if deadline is not None and not timed_out and now >= deadline:
                    timed_out = True
                    stop()
                if stop.kill_at is not None and not stop.killed and now >= stop.kill_at:
                    stop.kill()
                if stop.killed and give_up_at is None:
                    give_up_at = now + _DRAIN_AFTER_KILL
                if open_pipes and give_up_at is not None and now >= give_up_at:
                    break  # something outside the group holds the pipe open
                wait = _WAKE_INTERVAL
                pending = (
                    None if timed_out else deadline,
                    None if stop.killed else stop.kill_at,
                    give_up_at if open_pipes else None,
                )
                for moment in pending:
                    if moment is not None:
                        wait = min(wait, max(0.0, moment - now))
                if exit_fd is None and not open_pipes:
                    with suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=wait)
                    continue
                for key, _ in selector.select(wait):
                    if key.fileobj == exit_fd:
                        selector.unregister(exit_fd)
                        proc.wait()  # it has exited: this only reaps it
                        continue
                    data = os.read(key.fd, _READ_SIZE)
                    if data:
                        collectors[key.fileobj].feed(data)
                    else:
                        selector.unregister(key.fileobj)
                        collectors[key.fileobj].close()
                        open_pipes -= 1
        finally:
            if exit_fd is not None:
                os.close(exit_fd)
    for collector in collectors.values():
        collector.close()
    return timed_out


def resolve_cwd(cwd: PathOrFactory, context: TaskContext) -> str | Path | None:
    return cwd(context) if callable(cwd) else cwd


def resolve_env(env: EnvOrFactory, context: TaskContext) -> dict[str, str] | None:
    """None inherits the environment; a mapping is laid over ``os.environ``."""
    extra = env(context) if callable(env) else env
    if extra is None:
        return None
    return {**os.environ, **extra}


def make_command_handler(
    build_argv: Callable[[TaskContext], Sequence[str]],
    *,
    cwd: PathOrFactory = None,
    env: EnvOrFactory = None,
    on_output: OutputCallback | None = None,
    keep_output_bytes: int | None = None,
    on_spawn: SpawnCallback | None = None,
    kill_grace: float = 5.0,
    universal_newlines: bool = True,
) -> Callable[[TaskContext], subprocess.CompletedProcess[str]]:
    """A handler that runs ``build_argv(context)`` through :func:`run_process`.

    ``cwd`` and ``env`` may be values or functions of the context (per-task directories);
    ``env`` is laid over ``os.environ``. ``on_output(context, stream, line)`` sees every line.
    ``keep_output_bytes`` caps the text kept in the result: the last whole lines that fit,
    or the tail of a single longer line (``on_output`` still gets everything).
    ``on_spawn(context, pid)`` learns the process group id; ``kill_grace`` is the delay
    between SIGTERM and SIGKILL. ``universal_newlines=False`` keeps "\r" as written.
    """
    if keep_output_bytes is not None and (
        isinstance(keep_output_bytes, bool)
        or not isinstance(keep_output_bytes, int)
        or keep_output_bytes < 0
    ):
        raise ValueError("keep_output_bytes must be None or a non-negative int")
    if isinstance(kill_grace, bool) or not isinstance(kill_grace, int | float) or kill_grace < 0:
        raise ValueError("kill_grace must be a non-negative number of seconds")

    def run_command(context: TaskContext) -> subprocess.CompletedProcess[str]:
        return run_process(
            build_argv(context),
            context,
            timeout=context.timeout,
            cwd=resolve_cwd(cwd, context),
            env=resolve_env(env, context),
            on_output=on_output,
            on_spawn=on_spawn,
            keep_output_bytes=keep_output_bytes,
            kill_grace=kill_grace,
            universal_newlines=universal_newlines,
        )

    return run_command
