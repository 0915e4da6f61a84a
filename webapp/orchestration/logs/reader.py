"""Streaming readers of a task log: from an offset, the last lines, a whole download.

Reading. ``read_from`` returns whole UTF-8 characters only and returns partial lines as
they are (the writer keeps lines whole, so a partial last line is just the live tail);
only an incomplete UTF-8 sequence at the very end of the file is held back, unless
``final=True``.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import BinaryIO

from webapp.orchestration.logs.layout import (
    DEFAULT_READ_BYTES,
    DEFAULT_TAIL_BYTES,
    RECORD_SIZE,
    STDOUT,
    STREAM_LABELS,
    streams_path,
    utf8_end,
)


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


class StreamMap:
    """Binary search over the sidecar's records without loading it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            self._fh: BinaryIO | None = open(streams_path(path), "rb")  # noqa: SIM115
        except FileNotFoundError:
            self._fh, self._count = None, 0
        else:
            self._count = os.fstat(self._fh.fileno()).st_size // RECORD_SIZE

    def close(self) -> None:
        if self._fh:
            self._fh.close()

    def _record(self, index: int) -> tuple[int, str]:
        assert self._fh is not None
        self._fh.seek(index * RECORD_SIZE)
        raw = self._fh.read(RECORD_SIZE)
        return int(raw[:16], 16), STREAM_LABELS.get(raw[17], STDOUT)

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
    end = len(data) if final and at_eof else utf8_end(data, len(data))
    streams = StreamMap(path)
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


def open_download(path: str | os.PathLike[str]) -> BinaryIO:
    """The plain log for a full download (an empty stream when there is no log yet)."""
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        return io.BytesIO(b"")
