"""The log viewer's model: one window of a log rendered to HTML, plus where to go from it.

Shared by the task page, the archived task page and the plain "log window" page, so the
three show logs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

from webapp.web.logview import render_segments

WINDOW_BYTES = 256 * 1024


@dataclass(frozen=True)
class LogPanel:
    """What ``tasks/_log.html`` renders."""

    html: Markup
    offset: int
    """Byte offset of the first shown byte (0: nothing earlier to load)."""
    next_offset: int
    """Where the live view continues."""
    size: int
    done: bool
    """True when no more output can come (the run is over, or an archive)."""
    window_url: str
    """The plain page of one log window (``?offset=`` forward, ``?end=`` backward)."""
    download_url: str
    search_url: str
    poll_url: str | None = None
    query: str | None = None
    matches: list = field(default_factory=list)
    run_no: int | None = None
    run_links: list[tuple[int, str]] = field(default_factory=list)

    @property
    def has_earlier(self) -> bool:
        return self.offset > 0

    @property
    def has_later(self) -> bool:
        return self.next_offset < self.size


def tail_offset(size: int, window: int = WINDOW_BYTES) -> int:
    return max(0, size - window)


def earlier_range(end: int, window: int = WINDOW_BYTES) -> tuple[int, int]:
    """``(offset, max_bytes)`` of the window that ends at ``end``."""
    end = max(0, end)
    start = max(0, end - window)
    return start, end - start


def build(
    chunk, *, done: bool, html: Markup | None = None, query: str | None = None, **urls
) -> LogPanel:
    """A panel for ``chunk`` (a ``LogChunk``): its text escaped, coloured and marked (or the
    ``html`` already rendered for it)."""
    return LogPanel(
        html=render_segments(chunk.segments, query) if html is None else html,
        offset=chunk.offset,
        next_offset=chunk.next_offset,
        size=chunk.size,
        done=done,
        query=query,
        **urls,
    )
