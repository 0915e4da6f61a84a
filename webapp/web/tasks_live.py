"""What a task page polls: its status fragment (204 while unchanged) and its log by offset."""

from __future__ import annotations

from types import SimpleNamespace

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_file,
)

from webapp import orchestration
from webapp.engine import TaskType
from webapp.limits import LOG_SEARCH_MAX_MATCHES, SEARCH_MAX_CHARS
from webapp.orchestration import logs
from webapp.web import logpanel, lookup
from webapp.web.links import task_links
from webapp.web.logview import RenderedCache, ansi_stylesheet, render_segments

bp = Blueprint("tasks_live", __name__, url_prefix="/projects/<project_id>/tasks/<task_id>")
lookup.register(bp)

NO_STORE = {"Cache-Control": "no-store"}
CACHE_KEY = "webapp.log_html"
ANSWER_TYPES = frozenset({TaskType.PROMPT, TaskType.AGENT})  # their output is the answer
LOG_FRAGMENT_HEADER = "X-Log-Fragment"


def log_cache() -> RenderedCache:
    """The app's cache of rendered log windows (made by ``dashboard.init_app``)."""
    return current_app.extensions[CACHE_KEY]


def run_identity(task, run_no: int | None) -> str:
    """What names one run's log for the cache: its run ID, which is never reused."""
    if run_no is None or run_no == task.run_no:
        return f"run:{task.run_id}"
    runs = orchestration.task_runs(task.project_id, task.task_id)
    return next(f"run:{r.run_id}" for r in runs if r.run_no == run_no)


def result_html(task):
    """A prompt's or agent's answer, shown apart; a shell task's output is its log."""
    if task.type in ANSWER_TYPES and task.result_output_tail:
        return render_segments([("stdout", task.result_output_tail)])
    return None


def parse_offset(name: str, default: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        abort(400, f"{name} must be a byte offset (a whole number >= 0), got {raw!r}.")
    return int(raw)


def parse_run(task) -> int | None:
    raw = request.args.get("run")
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= max(task.runs or 1, 1):
        abort(404, f"Task {task.task_id} has no run {raw!r}; it has {task.runs or 1} run(s).")
    return int(raw)


def log_urls(project_id: str, task_id: str, run_no: int | None) -> dict:
    links = task_links(SimpleNamespace(project_id=project_id, task_id=task_id))
    run = f"?run={run_no}" if run_no else ""
    return {
        "window_url": links.log + run,
        "download_url": links.download + run,
        "search_url": links.page + run,
    }


def rendered_tail(task, run_no: int | None, query: str | None):
    """The last 256 KB of a run's log (whole characters) and its HTML.

    One stat; the file is read only when its size is one this app has not rendered yet.
    """
    identity = run_identity(task, run_no)
    path = orchestration.run_log_path(task.project_id, task.task_id, run_no or task.run_no)
    cache, size = log_cache(), logs.log_size(path)
    window = cache.tail_window(identity, size)
    html = None if window is None else cache.cached(identity, window, query)
    if html is not None:
        return window, html
    chunk = logs.read_from(path, logpanel.tail_offset(size), logpanel.WINDOW_BYTES)
    if chunk.size == size:  # the file did not grow between the stat and the read
        cache.remember_tail(identity, chunk)
    return chunk, cache.render(identity, chunk, query)


def task_log_panel(task) -> logpanel.LogPanel:
    """The task page's log: its tail, live unless the run is over; search results if asked."""
    run_no = parse_run(task)
    query = log_query()
    chunk, html = rendered_tail(task, run_no, query)
    current = run_no is None or run_no == task.run_no
    done = task.is_terminal or not current
    matches = []
    if query:
        matches = orchestration.search_task_log(
            task.project_id, task.task_id, query, limit=LOG_SEARCH_MAX_MATCHES, run_no=run_no
        )
    urls = log_urls(task.project_id, task.task_id, run_no)
    page = urls["search_url"].split("?", 1)[0]
    run_links = [(n, f"{page}?run={n}") for n in range(1, (task.runs or 1) + 1)]
    poll = None if done else urls["window_url"]
    return logpanel.build(
        chunk,
        done=done,
        html=html,
        query=query,
        poll_url=poll,
        matches=matches,
        run_no=run_no or task.run_no,
        run_links=run_links if len(run_links) > 1 else [],
        **urls,
    )


@bp.get("/status")
def status(project_id: str, task_id: str):
    """The status fragment; 204 while the version is the one the page shows."""
    try:
        version = orchestration.task_version(project_id, task_id)
    except LookupError:
        html = render_template("tasks/_gone.html", project_id=project_id, task_id=task_id)
        return html, 200, {**NO_STORE, "HX-Trigger": "task-gone"}
    if request.args.get("v") == str(version):
        return "", 204, NO_STORE
    detail = orchestration.task_detail(project_id, task_id)
    task = detail.task
    html = render_template(
        "tasks/_status_fragment.html",
        task=task,
        history=detail.history,
        counts=orchestration.counts_by_status(project_id),
        result_html=result_html(task),
    )
    return html, 200, {**NO_STORE, "HX-Trigger": "task-changed"}


def window_range() -> tuple[int, int]:
    """``(offset, max_bytes)`` from ``?end=`` (the window before it) or ``?offset=``."""
    end = parse_offset("end")
    if end is not None:
        return logpanel.earlier_range(end)
    return parse_offset("offset", 0), logpanel.WINDOW_BYTES


def log_query() -> str | None:
    return (request.args.get("q") or "").strip()[:SEARCH_MAX_CHARS] or None


def fragment_response(identity: str, chunk, query: str | None, done: bool):
    """New log text for log.js: HTML plus offsets in headers; 204 when nothing is new."""
    headers = {
        **NO_STORE,
        "X-Log-Offset": str(chunk.offset),
        "X-Log-Next-Offset": str(chunk.next_offset),
        "X-Log-Size": str(chunk.size),
        "X-Log-Done": "1" if done and chunk.next_offset >= chunk.size else "0",
    }
    if not chunk.segments:
        return "", 204, headers
    return str(log_cache().render(identity, chunk, query)), 200, headers


@bp.get("/log")
def log(project_id: str, task_id: str):
    """One window of the log: ``?offset=N`` forward (live appends), ``?end=N`` backward.

    Fetched by log.js (header ``X-Log-Fragment``) it is a bare fragment with the offsets in
    headers, or 204 when nothing new arrived; opened as a link it is a page of its own.
    """
    task = orchestration.get_task_meta(project_id, task_id, with_output=False)
    run_no = parse_run(task)
    current = run_no is None or run_no == task.run_no
    done = task.is_terminal or not current
    offset, max_bytes = window_range()
    query = log_query()
    chunk = orchestration.read_run_log(
        project_id, task_id, run_no or task.run_no, offset=offset, max_bytes=max_bytes
    )
    identity = run_identity(task, run_no)
    if request.headers.get(LOG_FRAGMENT_HEADER):
        return fragment_response(identity, chunk, query, done)
    html = log_cache().render(identity, chunk, query)
    panel = logpanel.build(
        chunk,
        done=True,
        html=html,
        query=query,
        run_no=run_no,
        **log_urls(project_id, task_id, run_no),
    )
    return render_template("tasks/log_page.html", task=task, log=panel)


@bp.get("/log/download")
def download(project_id: str, task_id: str):
    task = orchestration.get_task_meta(project_id, task_id, with_output=False)
    run_no = parse_run(task)
    path = orchestration.run_log_path(project_id, task_id, run_no or task.run_no)
    name = f"{project_id}-{task_id}-run{run_no or task.run_no or 1}.log"
    if not path or not path.is_file():
        return Response(b"", mimetype="text/plain", headers={
            "Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
    return send_file(path, mimetype="text/plain", as_attachment=True, download_name=name,
                     max_age=0)  # fmt: skip


ansi_bp = Blueprint("logview", __name__)


@ansi_bp.get("/static/vendor/ansi.css")
def ansi_css():
    """The ANSI colour classes, generated from ansi2html's palettes (never copied)."""
    response = Response(ansi_stylesheet(), mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response
