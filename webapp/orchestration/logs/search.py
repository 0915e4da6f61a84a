"""Searching a task log line by line, streaming it in blocks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from webapp.orchestration.logs.layout import utf8_end
from webapp.orchestration.logs.reader import StreamMap

SEARCH_BLOCK = 1024 * 1024
MATCH_TEXT_CHARS = 400


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
        cut = cut or utf8_end(data, len(data)) or len(data)
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
    streams = StreamMap(path)
    try:
        with fh:
            _scan(fh, needle, limit, streams, matches)
    finally:
        streams.close()
    return matches


def _scan(fh: BinaryIO, needle: str, limit: int, streams: StreamMap, out: list) -> None:
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
