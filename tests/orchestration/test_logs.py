"""Log files: streaming writes, the cap and its marker, offsets, tail, search, download."""

from __future__ import annotations

import threading
import tracemalloc

import pytest

from webapp.orchestration import logs
from webapp.orchestration.logs import (
    STDERR,
    STDOUT,
    SYSTEM,
    LogSegment,
    LogWriter,
    log_size,
    open_download,
    read_from,
    search,
    streams_path,
    tail_lines,
)

MARKER = "[webapp] log truncated at 1 KB; further output dropped\n"


@pytest.fixture
def log(tmp_path):
    return tmp_path / "logs" / "task.log"


def test_plain_file_holds_output_only_and_readers_label_streams(log):
    with LogWriter(log) as writer:
        writer.stdout("building…\n")
        writer.stderr(b"warning: disk\n")
        writer.stdout("done ✓\n")
    assert log.read_text(encoding="utf-8") == "building…\nwarning: disk\ndone ✓\n"
    chunk = read_from(log)
    assert [(s.stream, s.text) for s in chunk.segments] == [
        (STDOUT, "building…\n"),
        (STDERR, "warning: disk\n"),
        (STDOUT, "done ✓\n"),
    ]
    assert chunk.next_offset == chunk.size == log.stat().st_size
    assert chunk.at_end


def test_lines_of_two_streams_never_interleave_mid_line(log):
    with LogWriter(log) as writer:
        writer.stdout("progress: 1")
        writer.stderr("ERROR one\n")
        assert read_from(log).text == "ERROR one\n"  # the partial stdout line waits
        writer.stdout("0%\n")
        writer.stdout("tail without newline")
        writer.flush()  # the caller flushes when the process exits
        assert read_from(log).text.endswith("tail without newline")
    assert log.read_text() == "ERROR one\nprogress: 10%\ntail without newline"


def test_write_system_note_is_labelled(log):
    with LogWriter(log) as writer:
        writer.stdout("x\n")
        writer.write_system("[webapp] exit code 3")
    assert read_from(log).segments[-1].stream == SYSTEM
    assert log.read_text().endswith("[webapp] exit code 3\n")


def test_concurrent_writers_keep_every_line_whole_and_labelled(log):
    writer = LogWriter(log)

    def produce(stream: str) -> None:
        for i in range(2000):
            writer.write(f"{stream} line {i} {'é' * (i % 7)}\n", stream)

    threads = [threading.Thread(target=produce, args=(s,)) for s in (STDOUT, STDERR)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    seen = {STDOUT: [], STDERR: []}
    for segment in read_from(log, 0, 10**7).segments:
        for line in segment.text.splitlines():
            assert line.startswith(segment.stream), (segment.stream, line)
            seen[segment.stream].append(int(line.split()[2]))
    assert seen[STDOUT] == list(range(2000))
    assert seen[STDERR] == list(range(2000))


def test_cap_writes_one_marker_and_counts_dropped_bytes(log):
    writer = LogWriter(log, cap_bytes=1024)
    total = 0
    for i in range(200):
        line = f"line {i:04d} " + "x" * 40 + "\n"
        writer.stdout(line)
        total += len(line)
    writer.stderr("late error\n")
    total += len("late error\n")
    writer.close()
    text = log.read_text()
    assert text.endswith(MARKER)
    assert text.count("[webapp] log truncated") == 1
    # Output fills the cap exactly (20 lines of 51 bytes + "line"), then a newline so the
    # marker starts its own line, then the marker.
    output = text[: -len(MARKER) - 1]
    assert len(output.encode()) == 1024
    assert text[len(output)] == "\n"
    assert writer.truncated
    assert writer.dropped_bytes == total - 1024
    assert read_from(log).segments[-1] == LogSegment(SYSTEM, MARKER)


def test_cap_inside_a_long_unicode_line_keeps_valid_utf8(log):
    with LogWriter(log, cap_bytes=1024) as writer:
        writer.stdout("€" * 2000 + "\n")  # 6001 bytes, no newline before the cap
    data = log.read_bytes()
    text = data.decode("utf-8")  # strict: no split character
    assert text.endswith("\n" + MARKER)
    assert set(text[: -len(MARKER) - 1]) == {"€"}
    assert len(data) - len(MARKER) - 1 <= 1024


def test_reopened_truncated_log_gets_no_second_marker(log):
    with LogWriter(log, cap_bytes=1024) as writer:
        writer.stdout("y" * 3000 + "\n")
    with LogWriter(log, cap_bytes=1024) as writer:
        assert writer.truncated
        writer.stdout("more\n")
        assert writer.dropped_bytes == 5
    assert log.read_text().count("[webapp] log truncated") == 1


def test_reopened_log_appends_and_keeps_labels(log):
    with LogWriter(log) as writer:
        writer.stderr("first\n")
    with LogWriter(log) as writer:
        writer.stderr("second\n")
        writer.stdout("third\n")
    assert [(s.stream, s.text) for s in read_from(log).segments] == [
        (STDERR, "first\nsecond\n"),
        (STDOUT, "third\n"),
    ]


def test_memory_stays_flat_while_writing_tens_of_megabytes(log):
    block = (b"0123456789abcdef" * 63 + b"\n") * 64  # 64 KiB of lines
    tracemalloc.start()
    try:
        with LogWriter(log, cap_bytes=8 * 1024 * 1024) as writer:
            for _ in range(480):  # 30 MiB: 8 written, 22 dropped
                writer.stdout(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024
    data = log.read_bytes()
    kept = data[: data.rindex(b"[webapp] log truncated at 8 MB")]
    assert len(kept) == 8 * 1024 * 1024 - 8 * 1024 * 1024 % len(b"0123456789abcdef" * 63 + b"\n")
    assert writer.dropped_bytes == 480 * len(block) - len(kept)


def test_writer_rejects_unknown_stream_and_use_after_close(log):
    writer = LogWriter(log)
    with pytest.raises(ValueError, match="stream must be"):
        writer.write("x", "stdin")
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.stdout("late\n")


def test_offsets_never_split_a_character(log):
    text = "aé€😀\n" * 50 + "end"
    with LogWriter(log) as writer:
        writer.stdout(text)
    for max_bytes in (1, 4, 5, 6, 7, 13):
        offset, parts = 0, []
        while True:
            chunk = read_from(log, offset, max_bytes, final=True)
            if chunk.next_offset == offset:
                break
            assert "\ufffd" not in chunk.text
            parts.append(chunk.text)
            offset = chunk.next_offset
        assert "".join(parts) == text


def test_offset_inside_a_character_moves_to_the_next_one(log):
    log.parent.mkdir()
    log.write_bytes("€x".encode())  # € is 3 bytes
    chunk = read_from(log, 1)
    assert (chunk.offset, chunk.text, chunk.next_offset) == (3, "x", 4)


def test_incomplete_character_at_the_end_waits_unless_final(log):
    log.parent.mkdir()
    log.write_bytes(b"ok " + "😀".encode()[:2])
    chunk = read_from(log)
    assert chunk.text == "ok " and chunk.next_offset == 3 and not chunk.at_end
    with open(log, "ab") as fh:
        fh.write("😀".encode()[2:])
    assert read_from(log, chunk.next_offset).text == "😀"
    assert read_from(log, 0, final=True).text == "ok 😀"


def test_live_tail_reassembles_output_written_between_reads(log):
    writer = LogWriter(log)
    offset, seen = 0, []
    for i in range(50):
        writer.write(f"tick {i} ünï\n", STDERR if i % 3 else STDOUT)
        chunk = read_from(log, offset, 10)
        seen.append(chunk.text)
        offset = chunk.next_offset
    writer.close()
    while not (chunk := read_from(log, offset, 10)).at_end or chunk.text:
        seen.append(chunk.text)
        offset = chunk.next_offset
    assert "".join(seen) == log.read_text()


def test_reading_past_the_end_or_a_missing_log_is_empty(log, tmp_path):
    assert read_from(tmp_path / "none.log", 100) == read_from(tmp_path / "none.log")
    assert read_from(tmp_path / "none.log").text == ""
    with LogWriter(log) as writer:
        writer.stdout("abc\n")
    chunk = read_from(log, 99)
    assert (chunk.text, chunk.next_offset) == ("", 4)
    with pytest.raises(ValueError):
        read_from(log, -1)
    assert log_size(log) == 4 and log_size(tmp_path / "none.log") == 0


def test_a_log_without_sidecar_reads_as_stdout(tmp_path):
    plain = tmp_path / "plain.log"
    plain.write_text("hello\n")
    assert not streams_path(plain).exists()
    assert [s.stream for s in read_from(plain).segments] == [STDOUT]


@pytest.mark.parametrize(
    ("content", "n", "expected"),
    [
        ("a\nb\nc\n", 2, "b\nc\n"),
        ("a\nb\nc", 2, "b\nc"),
        ("a\nb\nc\n", 3, "a\nb\nc\n"),
        ("a\nb\nc\n", 10, "a\nb\nc\n"),
        ("a\nb\nc\n", 0, ""),
        ("\n\n\n", 2, "\n\n"),
        ("single", 1, "single"),
    ],
)
def test_tail_lines(tmp_path, content, n, expected):
    path = tmp_path / "t.log"
    path.write_text(content)
    chunk = tail_lines(path, n)
    assert chunk.text == expected
    assert chunk.next_offset == len(content)


def test_tail_keeps_labels_and_respects_max_bytes(log):
    with LogWriter(log) as writer:
        writer.stdout("one\n")
        writer.stderr("two\n")
        writer.stdout("ünïcode three\n")
    chunk = tail_lines(log, 2)
    assert [(s.stream, s.text) for s in chunk.segments] == [
        (STDERR, "two\n"),
        (STDOUT, "ünïcode three\n"),
    ]
    short = tail_lines(log, 2, max_bytes=9)
    assert "\ufffd" not in short.text and short.text.endswith("three\n")
    assert len(short.text.encode()) <= 9


def test_tail_of_a_20_megabyte_log_reads_from_the_end(tmp_path, bytes_read):
    path = tmp_path / "big.log"
    line = b"x" * 99 + b"\n"
    with open(path, "wb") as fh:
        for _ in range(20):
            fh.write(line * 10_486)  # ~1 MiB each
        fh.write(b"the last line\n")
    reads = bytes_read(logs)
    chunk = tail_lines(path, 100)
    assert chunk.text.endswith("the last line\n")
    assert chunk.text.count("\n") == 100
    # one 64 KiB block from the end to find the lines, then the ~10 KB of them
    assert reads[str(path)] <= 64 * 1024 + 100 * len(line), reads


def test_tail_never_reads_more_than_max_bytes_of_a_huge_log(tmp_path, bytes_read):
    path = tmp_path / "sparse.log"
    with open(path, "wb") as fh:
        fh.truncate(8 * 1024**3)  # an 8 GiB hole: reading it all would take many seconds
        fh.seek(0, 2)
        fh.write(b"\nfirst\nsecond\n")
    reads = bytes_read(logs)
    chunk = tail_lines(path, 2)
    assert chunk.text == "first\nsecond\n"
    assert reads[str(path)] <= 64 * 1024 + len(chunk.text), reads
    reads.clear()
    assert len(tail_lines(path, 5, max_bytes=4096).text.encode()) <= 4096
    assert reads[str(path)] <= 2 * 4096, reads  # at most max_bytes looking, max_bytes read
    reads.clear()
    assert tail_lines(path, 5).text.endswith("first\nsecond\n")  # 5 lines: all in the hole
    assert reads[str(path)] <= 2 * logs.DEFAULT_TAIL_BYTES, reads


def test_search_is_case_insensitive_with_line_numbers_offsets_and_streams(log):
    with LogWriter(log) as writer:
        writer.stdout("Starting\n")
        writer.stderr("ÉCHEC: connexion refusée\n")
        writer.stdout("retry\nÉchec again\n")
    matches = search(log, "échec")
    assert [(m.line_number, m.text, m.stream) for m in matches] == [
        (2, "ÉCHEC: connexion refusée", STDERR),
        (4, "Échec again", STDOUT),
    ]
    with open(log, "rb") as fh:
        for match in matches:
            fh.seek(match.offset)
            assert fh.readline().decode().rstrip("\n") == match.text
    assert search(log, "nothing here") == []
    assert search(log.parent / "missing.log", "x") == []
    with pytest.raises(ValueError):
        search(log, "")


def test_search_across_blocks_matches_a_naive_scan_and_honours_limit(tmp_path):
    path = tmp_path / "s.log"
    lines = [
        f"row {i} {'NEEDLE' if i % 9973 == 0 else 'hay'} {'z' * (i % 50)}" for i in range(60_000)
    ]
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 2 * 1024 * 1024  # spans several search blocks
    expected = [i + 1 for i, line in enumerate(lines) if "needle" in line.lower()]
    matches = search(path, "needle")
    assert [m.line_number for m in matches] == expected
    with open(path, "rb") as fh:
        for match in matches:
            fh.seek(match.offset)
            assert fh.readline().decode().rstrip("\n") == lines[match.line_number - 1]
    assert [m.line_number for m in search(path, "needle", limit=2)] == expected[:2]


def test_search_in_a_very_long_line_reports_an_excerpt(tmp_path):
    path = tmp_path / "long.log"
    path.write_text("short\n" + "a" * 3_000_000 + "needle" + "b" * 1000 + "\nafter needle\n")
    matches = search(path, "NEEDLE")
    assert [m.line_number for m in matches] == [2, 3]
    assert matches[0].offset == 6
    assert "needle" in matches[0].text and len(matches[0].text) <= 400


def test_download_is_the_plain_text(log, tmp_path):
    with LogWriter(log, cap_bytes=1024) as writer:
        writer.stderr("e\n")
        writer.stdout("o" * 2000 + "\n")
    with open_download(log) as fh:
        assert fh.read() == log.read_bytes()
    with open_download(tmp_path / "missing.log") as fh:
        assert fh.read() == b""
