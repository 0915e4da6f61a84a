"""Log text to safe HTML: escape first, then ANSI colours (ansi2html), stderr marked apart.

The order matters: every ``&``, ``<``, ``>`` and quote of the task's output is escaped before
the converter sees it, and the converter runs with ``escaped=False`` so it only adds its own
``<span class="ansiNN">`` tags. Escape sequences the converter would turn into links (OSC 8)
or box characters are dropped, and 24-bit colours are mapped to the 256-colour palette, so the
converter never grows its module-level table of truecolor rules.
"""

from __future__ import annotations

import html
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from ansi2html import Ansi2HTMLConverter
from ansi2html.style import get_styles
from markupsafe import Markup

from webapp.limits import SEARCH_MAX_CHARS

CSI = re.compile(r"\x1b\[([0-9;:]*)([A-Za-z])")
OSC = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
OTHER_ESCAPE = re.compile(r"\x1b[()][0-9A-Za-z]|\x1b(?![\[])")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TRUECOLOR = re.compile(r"(?<![0-9])([34]8)[;:]2[;:](\d{1,3})[;:](\d{1,3})[;:](\d{1,3})")


def _cube(level: int) -> int:
    return 0 if level < 48 else 1 if level < 115 else (level - 35) // 40


def _rgb_to_256(red: int, green: int, blue: int) -> int:
    """Nearest index of the xterm 6x6x6 colour cube (16..231)."""
    r, g, b = (_cube(min(value, 255)) for value in (red, green, blue))
    return 16 + 36 * r + 6 * g + b


def _downsample(match: re.Match[str]) -> str:
    kind, red, green, blue = match.groups()
    return f"{kind};5;{_rgb_to_256(int(red), int(green), int(blue))}"


def _sgr_only(code: re.Match[str]) -> str:
    """Keep colour (SGR) codes, drop cursor and erase codes the converter ignores anyway."""
    params, command = code.groups()
    if command != "m":
        return ""
    return "\x1b[" + TRUECOLOR.sub(_downsample, params) + "m"


def _escape_plain(text: str, pattern: re.Pattern[str] | None) -> str:
    """HTML-escape plain text; wrap query matches in ``<mark>`` (escaped, then marked)."""
    text = CONTROL.sub("", OTHER_ESCAPE.sub("", text))
    if pattern is None:
        return html.escape(text, quote=True)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(html.escape(text[last : match.start()], quote=True))
        out.append("<mark>" + html.escape(match.group(0), quote=True) + "</mark>")
        last = match.end()
    out.append(html.escape(text[last:], quote=True))
    return "".join(out)


def query_pattern(query: str | None) -> re.Pattern[str] | None:
    """A case-insensitive literal pattern for a search query, or None for no query."""
    if not query or not query.strip():
        return None
    return re.compile(re.escape(query.strip()[:SEARCH_MAX_CHARS]), re.IGNORECASE)


def ansi_to_html(text: str, query: str | None = None) -> str:
    """One piece of output as HTML: escaped first, then coloured, matches marked."""
    pattern = query_pattern(query)
    text = OSC.sub("", text)
    pieces: list[str] = []
    last = 0
    for code in CSI.finditer(text):
        pieces.append(_escape_plain(text[last : code.start()], pattern))
        pieces.append(_sgr_only(code))
        last = code.end()
    pieces.append(_escape_plain(text[last:], pattern))
    # One converter per call: convert() keeps per-call state on the instance.
    return Ansi2HTMLConverter(escaped=False, inline=False).convert("".join(pieces), full=False)


def _parts(segment) -> tuple[str, str]:
    """``LogSegment`` objects and plain ``(stream, text)`` pairs alike."""
    if isinstance(segment, tuple):
        return segment
    return segment.stream, segment.text


STREAM_CLASSES = {"stderr": "stderr", "system": "system"}


def render_segments(segments: Iterable, query: str | None = None) -> Markup:
    """Log segments as HTML; stderr and webapp's own notes wrapped in their own class."""
    out: list[str] = []
    for segment in segments:
        stream, text = _parts(segment)
        if not text:
            continue
        body = ansi_to_html(text, query)
        klass = STREAM_CLASSES.get(stream)
        if klass:
            out.append(f'<span class="{klass}" data-stream="{klass}">{body}</span>')
        else:
            out.append(body)
    return Markup("".join(out))


def count_matches(segments: Iterable, query: str | None) -> int:
    pattern = query_pattern(query)
    if pattern is None:
        return 0
    return sum(len(pattern.findall(CSI.sub("", _parts(s)[1]))) for s in segments)


@lru_cache(maxsize=1)
def ansi_stylesheet() -> str:
    """CSS for the converter's classes, scoped to ``.log``: light, and dark for dark mode."""

    def rules(dark: bool, scheme: str, only_base: bool) -> list[str]:
        lines = []
        for rule in get_styles(dark_bg=dark, line_wrap=True, scheme=scheme):
            klass = rule.klass.strip()
            if not (klass.startswith(".ansi") or klass.startswith(".inv")):
                continue
            if klass.startswith(".ansi2html") or klass in (".inv_foreground", ".inv_background"):
                continue
            if only_base and not re.fullmatch(r"\.(ansi|inv)(3|4|9|10)[0-7]", klass):
                continue
            lines.append(".log " + str(rule).strip())
        return lines

    light = rules(False, "ansi2html", only_base=False)
    dark = rules(True, "dracula", only_base=True)
    return (
        "/* ANSI colours generated from ansi2html's palettes. */\n"
        + "\n".join(light)
        + "\n@media (prefers-color-scheme: dark) {\n"
        + "\n".join(dark)
        + "\n}\n"
    )


class LogWindow(NamedTuple):
    """Bytes ``[offset, next_offset)`` of a log that had ``size`` bytes (no text)."""

    offset: int
    next_offset: int
    size: int
    segments: tuple = ()


class RenderedCache:
    """Rendered log windows, least recently used out first, bounded by total characters.

    A run's log only grows, so the HTML of bytes ``[offset, next_offset)`` of one run (or of
    an archive) never changes: the key is that identity plus the range and the search query.
    One instance per app (``app.extensions``), shared by the server's request threads.
    """

    def __init__(self, max_chars: int = 8 * 1024 * 1024, max_windows: int = 4096) -> None:
        self.max_chars = max_chars
        self.max_windows = max_windows
        self._items: OrderedDict[tuple, Markup] = OrderedDict()
        self._windows: OrderedDict[tuple, LogWindow] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def cached(self, identity: str, window, query: str | None = None) -> Markup | None:
        """The HTML of ``window`` (anything with ``offset`` and ``next_offset``) if kept."""
        key = (identity, window.offset, window.next_offset, query)
        with self._lock:
            html = self._items.get(key)
            if html is not None:
                self._items.move_to_end(key)
            return html

    def tail_window(self, identity: str, size: int) -> LogWindow | None:
        """Where the tail window of this log was when it had ``size`` bytes, if read before.

        The same log at the same size is the same bytes (it only grows), so its tail
        window is too: a page can skip reading the file when the size did not change.
        """
        with self._lock:
            return self._windows.get((identity, size))

    def remember_tail(self, identity: str, chunk) -> None:
        """Note the tail window ``chunk`` (a read to the end of the log) for ``tail_window``."""
        window = LogWindow(chunk.offset, chunk.next_offset, chunk.size)
        with self._lock:
            self._windows[(identity, chunk.size)] = window
            while len(self._windows) > self.max_windows:
                self._windows.popitem(last=False)

    def render(self, identity: str, chunk, query: str | None = None) -> Markup:
        """``render_segments(chunk.segments, query)``, from the cache when seen before."""
        key = (identity, chunk.offset, chunk.next_offset, query)
        html = self.cached(identity, chunk, query)
        if html is not None:
            return html
        html = render_segments(chunk.segments, query)
        if len(html) > self.max_chars // 4:
            return html  # too big to be worth keeping
        with self._lock:
            if key not in self._items:
                self._items[key] = html
                self._chars += len(html)
            while self._chars > self.max_chars:
                _, dropped = self._items.popitem(last=False)
                self._chars -= len(dropped)
        return html
