"""The log writer: capped, line-buffered, labelling each stream.

Buffering. Each stream is line-buffered on its own: complete lines are written at once
(one ``write`` per chunk, no userspace buffer), a partial line waits for its newline, for
64 KiB to pile up, or for ``flush()``/``close()``. Lines of stdout and stderr therefore
never interleave mid-line, and memory stays bounded whatever the output size.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO

from webapp.orchestration.logs.layout import (
    DEFAULT_CAP_BYTES,
    RECORD_SIZE,
    STDERR,
    STDOUT,
    STREAM_CODES,
    STREAM_LABELS,
    SYSTEM,
    streams_path,
    utf8_end,
)

PENDING_LIMIT = 64 * 1024


def _write_all(fh: BinaryIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = fh.write(view)
        view = view[written:]


def _human_size(size: int) -> str:
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


class LogWriter:
    """Append one task's stdout and stderr to ``path``, capped at ``cap_bytes``.

    Thread-safe: stdout and stderr may be written from different threads. Past the cap,
    one marker line is written and later output is only counted in ``dropped_bytes``.
    One writer per file at a time; reopening an existing log appends to it.
    """

    def __init__(self, path: str | os.PathLike[str], *, cap_bytes: int = DEFAULT_CAP_BYTES):
        if cap_bytes < 1:
            raise ValueError(f"cap_bytes must be positive, got {cap_bytes}")
        self.path = Path(path)
        self.cap_bytes = cap_bytes
        self.dropped_bytes = 0
        self._lock = threading.Lock()
        self._pending = {STDOUT: bytearray(), STDERR: bytearray()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sidecar = streams_path(self.path)
        self._last: str | None = None
        if sidecar.exists():
            whole = sidecar.stat().st_size // RECORD_SIZE * RECORD_SIZE
            os.truncate(sidecar, whole)  # drop a torn record left by a crash
            if whole:
                with open(sidecar, "rb") as fh:
                    fh.seek(whole - RECORD_SIZE)
                    self._last = STREAM_LABELS.get(fh.read(RECORD_SIZE)[17])
        self._log = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        self._streams = open(sidecar, "ab", buffering=0)  # noqa: SIM115
        self._size = os.fstat(self._log.fileno()).st_size
        self._ends_with_newline = True
        if self._size:
            with open(self.path, "rb") as fh:
                fh.seek(self._size - 1)
                self._ends_with_newline = fh.read(1) == b"\n"
        self.truncated = self._size >= cap_bytes
        self._closed = False

    @property
    def size(self) -> int:
        """Bytes in the log file, marker included."""
        return self._size

    def write(self, data: bytes | str, stream: str = STDOUT) -> None:
        """Add output of ``stream`` ("stdout" or "stderr"); complete lines are written now."""
        if stream not in self._pending:
            raise ValueError(f"stream must be 'stdout' or 'stderr', got {stream!r}")
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        with self._lock:
            self._check_open()
            if self.truncated:
                self.dropped_bytes += len(data)
                return
            pending = self._pending[stream]
            pending += data
            end = pending.rfind(b"\n") + 1
            if len(pending) - end >= PENDING_LIMIT:
                end = utf8_end(pending, len(pending)) or len(pending)
            if end:
                chunk = bytes(pending[:end])
                del pending[:end]
                self._emit(stream, chunk)

    def stdout(self, data: bytes | str) -> None:
        self.write(data, STDOUT)

    def stderr(self, data: bytes | str) -> None:
        self.write(data, STDERR)

    def write_system(self, text: str) -> None:
        """Add one of webapp's own notes (e.g. the exit code) as a labelled line."""
        line = text if text.endswith("\n") else text + "\n"
        with self._lock:
            self._check_open()
            if self.truncated:
                self.dropped_bytes += len(line.encode("utf-8"))
                return
            self._emit(SYSTEM, line.encode("utf-8", "replace"))

    def flush(self) -> None:
        """Write held-back partial lines now (call it when the process exits)."""
        with self._lock:
            if self._closed:
                return
            for stream, pending in self._pending.items():
                if pending:
                    chunk = bytes(pending)
                    pending.clear()
                    if self.truncated:
                        self.dropped_bytes += len(chunk)
                    else:
                        self._emit(stream, chunk)

    def close(self) -> None:
        """Flush partial lines and close the files; closing twice is harmless."""
        self.flush()
        with self._lock:
            if not self._closed:
                self._closed = True
                self._log.close()
                self._streams.close()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"log writer for {self.path} is closed")

    def _emit(self, stream: str, data: bytes) -> None:
        room = self.cap_bytes - self._size
        if len(data) <= room:
            self._append(stream, data)
            return
        cut = data.rfind(b"\n", 0, room) + 1 or utf8_end(data, room)
        if cut:
            self._append(stream, data[:cut])
        self.dropped_bytes += len(data) - cut
        for pending in self._pending.values():
            self.dropped_bytes += len(pending)
            pending.clear()
        self.truncated = True
        if not self._ends_with_newline:  # end the cut line in its own stream
            self._append(self._last or stream, b"\n")
        note = f"[webapp] log truncated at {_human_size(self.cap_bytes)}; further output dropped"
        self._append(SYSTEM, note.encode() + b"\n")

    def _append(self, stream: str, data: bytes) -> None:
        if stream != self._last:
            _write_all(self._streams, b"%016x %s\n" % (self._size, STREAM_CODES[stream]))
            self._last = stream
        _write_all(self._log, data)
        self._size += len(data)
        self._ends_with_newline = data.endswith(b"\n")
