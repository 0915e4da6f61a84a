"""Search across every task and every log, live and archived.

Tasks are found through the full-text indexes of the task list (ID, name, command) and of
the archive (also the description); log lines through ``log_blocks`` (see
:mod:`webapp.store.log_search`), filled in the background by the worker's indexer with
:func:`index_step`, which reads at most ``budget`` bytes per call, in whole lines, so a 50 MB
log never blocks its task or a page and never sits in memory.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from webapp import limits
from webapp.orchestration import artifacts, context
from webapp.orchestration.archive import LOGS_DIR
from webapp.orchestration.errors import InvalidTaskRequest
from webapp.orchestration.projects import project_row
from webapp.orchestration.status import check_ui_status
from webapp.store import log_search
from webapp.store.db import immediate

log = logging.getLogger(__name__)

BLOCK_BYTES = 64 * 1024
STEP_BYTES = 4 * 1024 * 1024
STEP_FILES = 20
NEW_RUNS_PER_STEP = 1000
LINE_CHARS = 400
MAX_QUERY_CHARS = limits.SEARCH_MAX_CHARS
_RUNS_MARK = "runs_rowid"
_WORD = re.compile(r"\w+")


# -- indexing ---------------------------------------------------------------------------------
def _blocks(data: bytes, offset: int, line_no: int) -> list[tuple[int, int, int, str]]:
    """``data`` (whole lines) cut into blocks of about BLOCK_BYTES at line ends."""
    blocks, pos = [], 0
    while pos < len(data):
        if len(data) - pos <= BLOCK_BYTES:
            cut = len(data)
        else:
            cut = data.rfind(b"\n", pos, pos + BLOCK_BYTES) + 1
            if cut <= pos:  # a line longer than a block
                cut = pos + BLOCK_BYTES
        chunk = data[pos:cut]
        blocks.append((line_no, offset + pos, len(chunk), chunk.decode("utf-8", "replace")))
        line_no += chunk.count(b"\n")
        pos = cut
    return blocks


def _index_file(db, row: dict, budget: int) -> int:
    """Index the next whole lines of one log (at most ``budget`` bytes); bytes indexed."""
    archived = row["archive_id"] is not None
    finished = True if archived else log_search.run_finished(
        db, row["project_id"], row["task_id"], row["run_no"]
    )  # fmt: skip
    if finished is None:  # the task is gone and this log was not archived
        with immediate(db):
            log_search.forget_files(db, [row["id"]])
        return 0
    start = row["indexed_bytes"]
    try:
        with open(row["path"], "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(start)
            data = fh.read(min(max(size - start, 0), budget))
    except FileNotFoundError:
        size, data = start, b""
    at_end = start + len(data) >= size
    end = len(data) if (finished and at_end) else data.rfind(b"\n") + 1
    if end == 0 and len(data) >= budget:  # one line longer than the budget: cut it
        end = len(data)
    data = data[:end]
    done = bool(finished) and start + len(data) >= size
    if not data and not done:
        return 0
    blocks = _blocks(data, start, row["indexed_lines"] + 1)
    lines = row["indexed_lines"] + data.count(b"\n")
    with immediate(db):
        log_search.add_blocks(db, row["id"], blocks, from_bytes=start,
                              indexed_bytes=start + len(data), indexed_lines=lines,
                              done=done)  # fmt: skip
    return len(data)


def _register_new_runs(db) -> int:
    mark = log_search.state(db, _RUNS_MARK)
    runs = log_search.new_runs(db, mark, NEW_RUNS_PER_STEP)
    if not runs:
        return 0
    with immediate(db):
        for _, project_id, task_id, run_no, finished in runs:
            try:
                path = artifacts.run_log_path(project_id, task_id, run_no)
            except (ValueError, InvalidTaskRequest):
                continue
            if finished and not path.is_file():  # ended without output: nothing to index
                continue
            log_search.register_file(db, project_id, task_id, run_no, str(path))
        log_search.set_state(db, _RUNS_MARK, runs[-1][0])
    return len(runs)


def index_step(budget: int = STEP_BYTES) -> int:
    """One step of the background indexer: note new runs' logs, then index up to ``budget``
    bytes of logs that grew. Returns the work done (0: nothing to do now)."""
    db = context.db()
    work = _register_new_runs(db)
    left = budget
    for row in log_search.pending_files(db, STEP_FILES):
        if left <= 0:
            break
        try:
            done = _index_file(db, row, left)
        except OSError as exc:
            log.warning("could not index the log %s: %s", row["path"], exc)
            continue
        left -= done
        work += done
    return work


def index_all(budget: int = STEP_BYTES) -> None:
    """Index until nothing is left to do now (tests, ``webapp archive reindex``)."""
    while index_step(budget):
        pass


def _archived_logs(archive_dir: Path) -> list[tuple[int, Path]]:
    out = []
    for path in sorted((archive_dir / LOGS_DIR).glob("*.log")):
        run_no = artifacts._log_run_no(path.name)
        if run_no:
            out.append((run_no, path))
    return out


def on_archived(project_id: str, task_id: str, archive_dir: Path) -> None:
    """A task was archived: its indexed logs now stand for the archived copies (nothing is
    indexed twice), and archived logs not indexed yet are queued for the indexer."""
    db = context.db()
    archive_id = archive_dir.name
    with immediate(db):
        known = {f["run_no"]: f for f in log_search.files_of_task(db, project_id, task_id)}
        for run_no, path in _archived_logs(archive_dir):
            if run_no in known:
                log_search.move_file(db, known.pop(run_no)["id"], str(path), archive_id)
            else:
                log_search.register_file(db, project_id, task_id, run_no, str(path), archive_id)
        if known:
            log_search.forget_files(db, [f["id"] for f in known.values()])


def register_archive(project_id: str, task_id: str, archive_dir: Path) -> None:
    """Queue an archive's logs for indexing (the index rebuild; known ones are kept)."""
    db = context.db()
    with immediate(db):
        for run_no, path in _archived_logs(archive_dir):
            log_search.register_file(db, project_id, task_id, run_no, str(path), archive_dir.name)


def forget_archives(project_id: str, archive_ids: list[str]) -> None:
    db = context.db()
    with immediate(db):
        log_search.forget_files(db, log_search.archived_file_ids(db, project_id, archive_ids))


# -- searching --------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineHit:
    """One matching log line and where it is."""

    project_id: str
    task_id: str
    run_no: int
    archive_id: str | None
    line_no: int
    offset: int
    """Byte offset of the line's start in its log (where a window opens)."""
    text: str
    rank: float


def _words(query: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(query)]


def _find_line(data: bytes, words: list[bytes]) -> tuple[int, int] | None:
    """(start, end) of the first line of ``data`` holding every word (lower-case bytes),
    else of the first holding any; None when no word occurs. Scans bytes, not lines."""
    lowered = data.lower()
    first = min((p for w in words if (p := lowered.find(w)) >= 0), default=-1)
    if first < 0:
        return None
    pos = lowered.find(words[0])
    while pos >= 0:
        start = lowered.rfind(b"\n", 0, pos) + 1
        end = lowered.find(b"\n", pos)
        end = len(lowered) if end < 0 else end
        if all(w in lowered[start:end] for w in words):
            return start, end
        pos = lowered.find(words[0], end)
    end = lowered.find(b"\n", first)
    return lowered.rfind(b"\n", 0, first) + 1, len(lowered) if end < 0 else end


def _matching_line(block: dict, path: str, words: list[str]) -> tuple[int, int, str]:
    """(line number, byte offset, text) of the first line of the block with every word of
    the query (else any word); read back from the log, so offsets are exact bytes."""
    try:
        with open(path, "rb") as fh:
            fh.seek(block["offset"])
            data = fh.read(block["length"])
    except OSError:
        data = block["text"].encode()
    found = _find_line(data, [w.encode() for w in words])
    if found is None:
        end = data.find(b"\n")
        found = (0, len(data) if end < 0 else end)
    start, end = found
    text = data[start:end].decode("utf-8", "replace").rstrip("\r")
    line_no = block["line_no"] + data.count(b"\n", 0, start)
    return line_no, block["offset"] + start, text[:LINE_CHARS]


def search_logs(
    query: str, *, project_id: str | None = None, status: str | None = None,
    type: str | None = None, archived: bool | None = None, limit: int = 50,
) -> list[LineHit]:  # fmt: skip
    """Log lines matching every word of ``query``, best first; filters combine."""
    query = (query or "").strip()
    if not query or not _words(query):
        return []
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidTaskRequest(f"search text is limited to {MAX_QUERY_CHARS} characters")
    if project_id is not None:
        project_row(project_id)
    statuses = ()
    if status:
        try:
            statuses = (check_ui_status(status),)
        except ValueError as exc:
            raise InvalidTaskRequest(str(exc)) from None
    db = context.db()
    blocks = log_search.search_blocks(
        db, query, project_id=project_id, archived=archived, statuses=statuses, type=type,
        limit=limit,
    )  # fmt: skip
    words = _words(query)
    hits = []
    for block in blocks:
        row = log_search.get_file(db, block["file_id"])
        if row is None:
            continue
        line_no, offset, text = _matching_line(block, row["path"], words)
        hits.append(LineHit(row["project_id"], row["task_id"], row["run_no"], row["archive_id"],
                            line_no, offset, text, block["rank"]))  # fmt: skip
    return hits
