"""API: archived (deleted) tasks and their logs."""

from __future__ import annotations

from webapp import orchestration
from webapp.web.api import api
from webapp.web.api.inputs import query_int, to_json
from webapp.web.api.registry import Param
from webapp.web.api.schemas import ARCHIVE_REF, MAX_OFFSET, PROJECT_ID, ref
from webapp.web.api.tasks import MAX_LOG_READ, log_json

ARCHIVE = "/projects/<project>/archive/<archive>"
PATHS = {"project": PROJECT_ID, "archive": ARCHIVE_REF}
LOG_QUERY = (
    Param(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
        "Byte offset to read from (default 0).",
    ),
    Param(
        "max_bytes",
        {"type": "integer", "minimum": 1, "maximum": MAX_LOG_READ},
        "Most bytes to return (default 256 KiB).",
    ),
)


def archived_json(archived) -> dict:
    """The archive's fields, without the server's folder path."""
    out = to_json(archived, ("archive_id",))
    out.pop("archive_dir", None)
    return out


@api.route(
    "/projects/<project>/archive",
    role="viewer",
    path_params=PATHS,
    summary="Archived tasks of a project, newest first.",
    response={"type": "array", "items": ref("ArchivedTask")},
)
def list_archive(project: str):
    return [archived_json(item) for item in orchestration.list_archived_tasks(project)]


@api.route(
    ARCHIVE,
    role="viewer",
    path_params=PATHS,
    response=ref("ArchivedTask"),
    summary="One archived task (archive ID or unique prefix, or a task ID prefix).",
)
def get_archived(project: str, archive: str):
    return archived_json(orchestration.get_archived_task(project, archive))


@api.route(
    f"{ARCHIVE}/logs",
    role="viewer",
    path_params=PATHS,
    query=LOG_QUERY,
    response=ref("LogChunk"),
    summary="Log text of an archived task from a byte offset.",
)
def archived_logs(project: str, archive: str):
    chunk = orchestration.read_archived_log(
        project,
        archive,
        offset=query_int("offset", 0, maximum=MAX_OFFSET),
        max_bytes=query_int("max_bytes", 256 * 1024, minimum=1, maximum=MAX_LOG_READ),
    )
    return log_json(chunk)
