"""Log rendering: output is escaped before colouring, stderr stands apart, matches marked."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from webapp.web.logview import (
    RenderedCache,
    ansi_stylesheet,
    ansi_to_html,
    count_matches,
    render_segments,
)

TAG = re.compile(r"<(/?)([a-z]+)([^>]*)>")
ALLOWED_TAGS = {"span", "mark"}


def test_script_tags_in_output_are_text_not_markup():
    html = render_segments([("stdout", "<script>alert(1)</script>\n")])
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_ansi_colours_become_classes_around_escaped_text():
    html = ansi_to_html("\x1b[31m<b>red</b>\x1b[0m plain")
    assert html == '<span class="ansi31">&lt;b&gt;red&lt;/b&gt;</span> plain'


def test_256_and_truecolour_render_as_palette_classes():
    html = ansi_to_html("\x1b[38;5;208morange\x1b[0m \x1b[38;2;255;0;0mtrue\x1b[0m")
    assert 'class="ansi38-208"' in html
    assert 'class="ansi38-196"' in html  # 24-bit red mapped to the cube's red


def test_stderr_and_system_notes_are_wrapped_distinctly():
    html = render_segments(
        [("stdout", "out\n"), ("stderr", "err\n"), ("system", "[webapp] exit 1\n")]
    )
    assert 'out\n<span class="stderr" data-stream="stderr">err\n</span>' in html
    assert '<span class="system" data-stream="system">[webapp] exit 1\n</span>' in html


def test_terminal_links_and_box_drawing_escapes_are_dropped():
    html = ansi_to_html("\x1b]8;;javascript:alert(1)\x07click\x1b]8;;\x07 \x1b(0lqk\x1b(B")
    assert "<a" not in html and "javascript" not in html
    assert html == "click lqk"


def test_search_marks_matches_case_insensitively_without_breaking_escapes():
    html = ansi_to_html("Error <here> and error\x1b[32m ERROR\x1b[0m", query="error")
    assert html.count("<mark>") == 3
    assert "&lt;here&gt;" in html
    assert count_matches([("stdout", "Error and error"), ("stderr", "\x1b[1merror")], "ERROR") == 3


def test_search_query_is_literal_not_a_regex():
    assert ansi_to_html("a.b axb", query="a.b") == "<mark>a.b</mark> axb"


@given(st.text(alphabet=st.sampled_from(list("<>&\"'ab \n\x1b[];31m")), max_size=60))
def test_any_output_yields_only_our_own_tags(text):
    html = render_segments([("stdout", text), ("stderr", text)], query="a")
    for closing, name, attrs in TAG.findall(html):
        assert name in ALLOWED_TAGS, html
        if not closing and name == "span":
            assert re.fullmatch(r' (class|data-stream)="[a-z0-9 -]+"( data-stream="\w+")?', attrs)


def test_stylesheet_scopes_rules_to_the_log_and_has_a_dark_palette():
    css = ansi_stylesheet()
    assert ".log .ansi31 {" in css
    assert "prefers-color-scheme: dark" in css
    assert "body_background" not in css


class Chunk:
    """The parts of a LogChunk the cache looks at."""

    def __init__(self, offset, next_offset, segments):
        self.offset, self.next_offset, self.segments = offset, next_offset, segments


def test_rendered_cache_reuses_only_the_same_run_range_and_query():
    cache = RenderedCache(max_chars=10_000)
    first = cache.render("run:a", Chunk(0, 11, [("stdout", "\x1b[31mx\x1b[0m\n")]))
    same = cache.render("run:a", Chunk(0, 11, [("stdout", "DIFFERENT\n")]))
    assert same is first  # a run's bytes [0, n) never change, so the HTML is reused
    other_run = cache.render("run:b", Chunk(0, 11, [("stdout", "DIFFERENT\n")]))
    assert "DIFFERENT" in other_run
    grown = cache.render("run:a", Chunk(0, 16, [("stdout", "\x1b[31mx\x1b[0m\nmore\n")]))
    assert "more" in grown
    searched = cache.render("run:a", Chunk(0, 11, [("stdout", "\x1b[31mx\x1b[0m\n")]), "x")
    assert "<mark>x</mark>" in searched


def test_rendered_cache_stays_within_its_budget():
    cache = RenderedCache(max_chars=4_000)
    for n in range(50):
        cache.render(f"run:{n}", Chunk(0, 500, [("stdout", "y" * 500)]))
    assert cache._chars <= 4_000
    assert "y" * 10 in cache.render("run:49", Chunk(0, 500, [("stdout", "z")]))  # still cached
    assert "z" in cache.render("run:0", Chunk(0, 500, [("stdout", "z")]))  # evicted long ago


def test_rendered_cache_knows_a_tail_window_only_at_the_size_it_was_read():
    cache = RenderedCache(max_windows=2)
    assert cache.tail_window("run:a", 11) is None
    chunk = Chunk(0, 11, [("stdout", "x\n")])
    chunk.size = 11
    cache.remember_tail("run:a", chunk)
    window = cache.tail_window("run:a", 11)
    assert (window.offset, window.next_offset, window.size) == (0, 11, 11)
    assert cache.tail_window("run:a", 12) is None  # the log grew: read it again
    assert cache.tail_window("run:b", 11) is None
    assert cache.cached("run:a", window) is None  # a window is not its HTML
    html = cache.render("run:a", chunk)
    assert cache.cached("run:a", window) is html
    for n in range(3):
        cache.remember_tail(f"run:{n}", chunk)
    assert cache.tail_window("run:a", 11) is None  # only the newest windows are kept
