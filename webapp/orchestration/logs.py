"""Per-task log files: a capped, line-buffered writer and streaming readers.

Layout. The log file holds the output bytes exactly as produced (plus at most one
truncation marker line), so a download is plain text. A sidecar ``<log>.streams`` labels
them with fixed-width records ``b"%016x %c\\n"`` (19 bytes): "from this byte offset on,
the output is stdout (``o``), stderr (``e``) or webapp's own note (``w``)". A record is
appended only when the stream changes, and always before the bytes it labels; readers read
the data first and the sidecar second, so every byte they return is labelled. Bytes before
the first record, or in a log without a sidecar, are stdout.

Buffering. Each stream is line-buffered on its own: complete lines are written at once
(one ``write`` per chunk, no userspace buffer), a partial line waits for its newline, for
64 KiB to pile up, or for ``flush()``/``close()``. Lines of stdout and stderr therefore
never interleave mid-line, and memory stays bounded whatever the output size.

Reading. ``read_from`` returns whole UTF-8 characters only and returns partial lines as
they are (the writer keeps lines whole, so a partial last line is just the live tail);
only an incomplete UTF-8 sequence at the very end of the file is held back, unless
``final=True``.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

STDOUT, STDERR, SYSTEM = "stdout", "stderr", "system"
LOG_FILE_NAME = "task.log"
DEFAULT_CAP_BYTES = 50 * 1024 * 1024
DEFAULT_READ_BYTES = 256 * 1024
DEFAULT_TAIL_BYTES = 1024 * 1024
PENDING_LIMIT = 64 * 1024
SEARCH_BLOCK = 1024 * 1024
MATCH_TEXT_CHARS = 400

_CODES = {STDOUT: b"o", STDERR: b"e", SYSTEM: b"w"}
_LABELS = {code[0]: label for label, code in _CODES.items()}
_RECORD = 19


def streams_path(path: str | os.PathLike[str]) -> Path:
    """The sidecar that labels the byte ranges of the log at ``path``."""
    return Path(f"{os.fspath(path)}.streams")


def _utf8_end(data: bytes | bytearray, end: int) -> int:
    """``end`` moved back before an incomplete UTF-8 sequence that ``data[:end]`` ends with."""
    for back in range(1, min(3, end) + 1):
        byte = data[end - back]
        if byte & 0xC0 == 0x80:  # continuation byte: keep looking for the lead
            continue
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return end - back if need > back else end
        return end
    return end


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
            whole = sidecar.stat().st_size // _RECORD * _RECORD
            os.truncate(sidecar, whole)  # drop a torn record left by a crash
            if whole:
                with open(sidecar, "rb") as fh:
                    fh.seek(whole - _RECORD)
                    self._last = _LABELS.get(fh.read(_RECORD)[17])
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
                end = _utf8_end(pending, len(pending)) or len(pending)
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
        cut = data.rfind(b"\n", 0, room) + 1 or _utf8_end(data, room)
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
            _write_all(self._streams, b"%016x %s\n" % (self._size, _CODES[stream]))
            self._last = stream
        _write_all(self._log, data)
        self._size += len(data)
        self._ends_with_newline = data.endswith(b"\n")


@dataclass(frozen=True)
class LogSegment:
    """A run of text from one stream."""

    stream: str
    """"stdout", "stderr" or "system" (webapp's own notes, such as the truncation marker)."""
    text: str


@dataclass(frozen=True)
class LogChunk:
    """Text read from a log: where it started, where to continue, and its labelled parts."""

    offset: int
    """Byte offset of the first returned byte."""
    next_offset: int
    """Byte offset to pass to the next ``read_from`` call."""
    size: int
    """Size of the file when it was read."""
    segments: tuple[LogSegment, ...]

    @property
    def text(self) -> str:
        return "".join(segment.text for segment in self.segments)

    @property
    def at_end(self) -> bool:
        return self.next_offset >= self.size


@dataclass(frozen=True)
class LogMatch:
    """One line containing the search query."""

    line_number: int
    """1-based line number in the log."""
    offset: int
    """Byte offset of the start of the line."""
    text: str
    """The line (without its newline), cut to a window around the match when very long."""
    stream: str


class _StreamMap:
    """Binary search over the sidecar's records without loading it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            self._fh: BinaryIO | None = open(streams_path(path), "rb")  # noqa: SIM115
        except FileNotFoundError:
            self._fh, self._count = None, 0
        else:
            self._count = os.fstat(self._fh.fileno()).st_size // _RECORD

    def close(self) -> None:
        if self._fh:
            self._fh.close()

    def _record(self, index: int) -> tuple[int, str]:
        assert self._fh is not None
        self._fh.seek(index * _RECORD)
        raw = self._fh.read(_RECORD)
        return int(raw[:16], 16), _LABELS.get(raw[17], STDOUT)

    def _index_at(self, offset: int) -> int:
        low, high = 0, self._count  # find the last record starting at or before offset
        while low < high:
            mid = (low + high) // 2
            if self._record(mid)[0] <= offset:
                low = mid + 1
            else:
                high = mid
        return low - 1

    def label_at(self, offset: int) -> str:
        index = self._index_at(offset)
        return self._record(index)[1] if index >= 0 else STDOUT

    def split(self, start: int, data: bytes) -> tuple[LogSegment, ...]:
        index = self._index_at(start)
        label = self._record(index)[1] if index >= 0 else STDOUT
        segments: list[LogSegment] = []
        pos, end = start, start + len(data)
        while pos < end:
            index += 1
            boundary, next_label = self._record(index) if index < self._count else (end, label)
            boundary = min(max(boundary, pos), end)
            if boundary > pos:
                text = data[pos - start : boundary - start].decode("utf-8", "replace")
                if segments and segments[-1].stream == label:
                    segments[-1] = LogSegment(label, segments[-1].text + text)
                else:
                    segments.append(LogSegment(label, text))
            pos, label = boundary, next_label
        return tuple(segments)


def log_size(path: str | os.PathLike[str]) -> int:
    """Size of the log in bytes; 0 when it does not exist yet."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def read_from(
    path: str | os.PathLike[str],
    offset: int = 0,
    max_bytes: int = DEFAULT_READ_BYTES,
    *,
    final: bool = False,
) -> LogChunk:
    """Read up to ``max_bytes`` from byte ``offset``, cut to whole UTF-8 characters.

    An offset inside a character moves forward to the next one; an offset past the end
    returns nothing with ``next_offset`` at the current size. A missing file reads empty.
    """
    if offset < 0:
        raise ValueError(f"offset must not be negative, got {offset}")
    max_bytes = max(max_bytes, 4)  # always room for one whole character
    try:
        fh = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return LogChunk(0, 0, 0, ())
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if offset >= size:
            return LogChunk(size, size, size, ())
        fh.seek(offset)
        data = fh.read(min(max_bytes + 3, size - offset))
    skip = 0
    while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:
        skip += 1
    start = offset + skip
    data = data[skip : skip + max_bytes]
    at_eof = start + len(data) >= size
    end = len(data) if final and at_eof else _utf8_end(data, len(data))
    streams = _StreamMap(path)
    try:
        segments = streams.split(start, data[:end])
    finally:
        streams.close()
    return LogChunk(start, start + end, size, segments)


def tail_lines(
    path: str | os.PathLike[str],
    n: int,
    *,
    max_bytes: int = DEFAULT_TAIL_BYTES,
    final: bool = False,
) -> LogChunk:
    """The last ``n`` lines (at most ``max_bytes``), found by reading blocks from the end."""
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    size = log_size(path)
    if n == 0 or size == 0:
        return read_from(path, size, 1)
    start = None
    with open(path, "rb") as fh:
        found, pos, floor = 0, size, max(0, size - max_bytes)
        while pos > floor and start is None:
            block_start = max(floor, pos - 64 * 1024)
            fh.seek(block_start)
            block = fh.read(pos - block_start)
            index = len(block)
            while start is None:
                index = block.rfind(b"\n", 0, index)
                if index < 0:
                    break
                if block_start + index == size - 1:
                    continue  # the newline that ends the last line
                found += 1
                if found == n:
                    start = block_start + index + 1
            pos = block_start
    start = floor if start is None else start
    return read_from(path, start, size - start, final=final)


def _line_blocks(fh: BinaryIO) -> Iterator[bytes]:
    """Blocks of about SEARCH_BLOCK bytes that end at a line end (or cut a very long line)."""
    carry = b""
    while True:
        data = fh.read(SEARCH_BLOCK)
        if not data:
            if carry:
                yield carry
            return
        data = carry + data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) < SEARCH_BLOCK:
            carry = data
            continue
        cut = cut or _utf8_end(data, len(data)) or len(data)
        yield data[:cut]
        carry = data[cut:]


def _excerpt(line: str, folded_at: int) -> str:
    if len(line) <= MATCH_TEXT_CHARS:
        return line
    start = max(0, min(folded_at - MATCH_TEXT_CHARS // 2, len(line) - MATCH_TEXT_CHARS))
    return line[start : start + MATCH_TEXT_CHARS]


def search(path: str | os.PathLike[str], query: str, *, limit: int = 200) -> list[LogMatch]:
    """Lines containing ``query`` (case-insensitive), in order, at most ``limit``.

    Streams the file in blocks; a block without a match is skipped after one check.
    A line longer than 1 MiB is searched in pieces, so a match across a piece boundary
    can be missed.
    """
    needle = query.casefold()
    if not needle:
        raise ValueError("search query must not be empty")
    matches: list[LogMatch] = []
    try:
        fh = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return matches
    streams = _StreamMap(path)
    try:
        with fh:
            _scan(fh, needle, limit, streams, matches)
    finally:
        streams.close()
    return matches


def _scan(fh: BinaryIO, needle: str, limit: int, streams: _StreamMap, out: list) -> None:
    line_number, offset, line_start, last_hit = 1, 0, 0, 0
    for block in _line_blocks(fh):
        if needle not in block.decode("utf-8", "replace").casefold():
            last_newline = block.rfind(b"\n")
            if last_newline >= 0:
                line_number += block.count(b"\n")
                line_start = offset + last_newline + 1
            offset += len(block)
            continue
        pos = 0
        while pos < len(block):
            newline = block.find(b"\n", pos)
            end = len(block) if newline < 0 else newline + 1
            text = block[pos:end].decode("utf-8", "replace").rstrip("\r\n")
            at = text.casefold().find(needle)
            if at >= 0 and last_hit != line_number:
                last_hit = line_number
                label = streams.label_at(line_start)
                out.append(LogMatch(line_number, line_start, _excerpt(text, at), label))
                if len(out) >= limit:
                    return
            offset += end - pos
            pos = end
            if newline >= 0:
                line_number += 1
                line_start = offset


def open_download(path: str | os.PathLike[str]) -> BinaryIO:
    """The plain log for a full download (an empty stream when there is no log yet)."""
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        return io.BytesIO(b"")
