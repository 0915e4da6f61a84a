"""The on-disk layout of a task log, shared by its writer and readers.

Layout. The log file holds the output bytes exactly as produced (plus at most one
truncation marker line), so a download is plain text. A sidecar ``<log>.streams`` labels
them with fixed-width records ``b"%016x %c\\n"`` (19 bytes): "from this byte offset on,
the output is stdout (``o``), stderr (``e``) or webapp's own note (``w``)". A record is
appended only when the stream changes, and always before the bytes it labels; readers read
the data first and the sidecar second, so every byte they return is labelled. Bytes before
the first record, or in a log without a sidecar, are stdout.
"""

from __future__ import annotations

import os
from pathlib import Path

STDOUT, STDERR, SYSTEM = "stdout", "stderr", "system"
LOG_FILE_NAME = "task.log"
DEFAULT_CAP_BYTES = 50 * 1024 * 1024
DEFAULT_READ_BYTES = 256 * 1024
DEFAULT_TAIL_BYTES = 1024 * 1024

STREAM_CODES = {STDOUT: b"o", STDERR: b"e", SYSTEM: b"w"}
STREAM_LABELS = {code[0]: label for label, code in STREAM_CODES.items()}
RECORD_SIZE = 19


def streams_path(path: str | os.PathLike[str]) -> Path:
    """The sidecar that labels the byte ranges of the log at ``path``."""
    return Path(f"{os.fspath(path)}.streams")


def utf8_end(data: bytes | bytearray, end: int) -> int:
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
