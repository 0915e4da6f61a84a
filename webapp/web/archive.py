"""Archived tasks: the list (newest first, filter, search) and one archive's snapshot and log."""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Blueprint, abort, render_template, request, send_file, url_for

from webapp import orchestration
from webapp.limits import LOG_SEARCH_MAX_MATCHES
from webapp.orchestration import archive_index, errors, logs
from webapp.orchestration.archive import SNAPSHOT_FILE
from webapp.web import logpanel, lookup
from webapp.web import search as permalink
from webapp.web.listing import PAGE_SIZE, Pager, parse_filters
from webapp.web.tasks_live import (
    LOG_FRAGMENT_HEADER,
    fragment_response,
    log_cache,
    log_query,
    window_range,
)

bp = Blueprint("archive", __name__, url_prefix="/projects/<project_id>/archive")
lookup.register(bp)


@dataclass(frozen=True)
class DeletedProject:
    """Stands in for a deleted project whose archived tasks are still on disk."""

    id: str

    @property
    def name(self) -> str:
        return f"{self.id} (deleted)"


def archive_owner(project_id: str):
    """The project, or a stand-in while a deleted one left archived tasks behind."""
    try:
        return orchestration.project_get(project_id)
    except errors.ProjectNotFound:
        if not orchestration.list_archived_tasks(project_id):
            raise
        return DeletedProject(project_id)


@bp.get("")
def index(project_id: str):
    project = archive_owner(project_id)
    filters = parse_filters(request.args)
    page = archive_index.archive_page(
        project_id,
        status=filters.status,
        type=filters.type,
        search=filters.q,
        after=filters.after,
        before=filters.before,
        last=filters.last,
        limit=PAGE_SIZE,
    )
    pager = Pager.for_keyset(page, filters)
    return render_template(
        "archive/index.html", project=project, items=page.items, filters=filters, pager=pager
    )


def snapshot_of(item) -> dict:
    """The archived metadata snapshot (secrets already redacted); {} when unreadable."""
    try:
        data = json.loads((item.archive_dir / SNAPSHOT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def archive_urls(project_id: str, archive_id: str) -> dict:
    ids = {"project_id": project_id, "archive_id": archive_id}
    return {
        "window_url": url_for("archive.log", **ids),
        "download_url": url_for("archive.download", **ids),
        "search_url": url_for("archive.show", **ids),
    }


@bp.get("/<archive_id>")
def show(project_id: str, archive_id: str):
    item = orchestration.get_archived_task(project_id, archive_id)
    query = log_query()
    probe = orchestration.read_archived_log(project_id, item.archive_id, offset=0, max_bytes=1)
    chunk = orchestration.read_archived_log(
        project_id,
        item.archive_id,
        offset=logpanel.tail_offset(probe.size),
        max_bytes=logpanel.WINDOW_BYTES,
    )
    found = []
    if query:
        path = orchestration.task_archive_logs(project_id, item.archive_id)
        found = logs.search(path, query, limit=LOG_SEARCH_MAX_MATCHES) if path else []
    html = log_cache().render(f"archive:{project_id}/{item.archive_id}", chunk, query)
    panel = logpanel.build(
        chunk,
        done=True,
        html=html,
        query=query,
        matches=found,
        **archive_urls(project_id, item.archive_id),
    )
    return render_template(
        "archive/show.html",
        project_id=project_id,
        item=item,
        snapshot=snapshot_of(item),
        log=panel,
    )


@bp.get("/<archive_id>/log")
def log(project_id: str, archive_id: str):
    """One window of an archived log, as a fragment for log.js or as a page."""
    item = orchestration.get_archived_task(project_id, archive_id)
    offset, max_bytes = window_range()
    query = log_query()
    run = (request.args.get("run") or "").strip()
    if run and (not run.isdigit() or not 1 <= int(run) <= 10**6):
        abort(404, f"Archived task {item.archive_id} has no run {run[:20]!r}.")
    chunk = orchestration.read_archived_log(
        project_id, item.archive_id, offset=offset, max_bytes=max_bytes,
        run_no=int(run) if run else None,
    )  # fmt: skip
    identity = f"archive:{project_id}/{item.archive_id}" + (f"/run{run}" if run else "")
    if request.headers.get(LOG_FRAGMENT_HEADER):
        return fragment_response(identity, chunk, query, done=True)
    html = log_cache().render(identity, chunk, query)
    panel = logpanel.build(
        chunk, done=True, html=html, query=query, **archive_urls(project_id, item.archive_id)
    )
    panel = permalink.mark_line(panel, permalink.requested_line())
    return render_template("archive/log_page.html", project_id=project_id, item=item, log=panel)


@bp.get("/<archive_id>/log/download")
def download(project_id: str, archive_id: str):
    item = orchestration.get_archived_task(project_id, archive_id)
    path = orchestration.task_archive_logs(project_id, item.archive_id)
    if path is None or not path.is_file():
        abort(404, f"Archived task {item.archive_id} has no log.")
    name = f"{project_id}-{item.task_id}-{item.archived_at}.log"
    return send_file(path, mimetype="text/plain", as_attachment=True, download_name=name,
                     max_age=0)  # fmt: skip
