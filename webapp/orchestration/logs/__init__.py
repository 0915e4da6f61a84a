"""Per-task log files: a capped, line-buffered writer, streaming readers and search.

:mod:`.layout` says how a log and its stream-label sidecar sit on disk; :mod:`.writer`
appends to them, :mod:`.reader` reads from an offset or the end, :mod:`.search` finds
lines. The names below are the package's surface (``logs.read_from``, ``logs.LogWriter``).
"""

from webapp.orchestration.logs.layout import (
    DEFAULT_CAP_BYTES,
    DEFAULT_READ_BYTES,
    DEFAULT_TAIL_BYTES,
    LOG_FILE_NAME,
    STDERR,
    STDOUT,
    SYSTEM,
    streams_path,
)
from webapp.orchestration.logs.reader import (
    LogChunk,
    LogSegment,
    log_size,
    open_download,
    read_from,
    tail_lines,
)
from webapp.orchestration.logs.search import LogMatch, search
from webapp.orchestration.logs.writer import LogWriter

__all__ = [
    "DEFAULT_CAP_BYTES",
    "DEFAULT_READ_BYTES",
    "DEFAULT_TAIL_BYTES",
    "LOG_FILE_NAME",
    "STDERR",
    "STDOUT",
    "SYSTEM",
    "LogChunk",
    "LogMatch",
    "LogSegment",
    "LogWriter",
    "log_size",
    "open_download",
    "read_from",
    "search",
    "streams_path",
    "tail_lines",
]
