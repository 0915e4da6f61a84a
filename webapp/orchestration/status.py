"""The one place that turns stored state into the status a user sees.

The database stores the engine's status of a task's current run (pending, running, done,
failed, cancelled, blocked), the run's termination reason and the task's ``deleting`` mark.
What the UI shows is derived from those three, here and nowhere else; the task record keeps
a copy of the result (``status`` column) so that lists can filter and count by it with an
index, and that copy is always written through :func:`derive_status`.
"""

from __future__ import annotations

#: Every status the UI can show, in the order a status filter lists them.
UI_STATUSES = (
    "queued",
    "running",
    "completed",
    "failed",
    "cancelled",
    "blocked",
    "deleting",
    "lost",
)

#: The statuses a workflow (graph) can have, in the same order.
GRAPH_STATUSES = ("queued", "running", "completed", "failed", "cancelled")

#: Statuses after which nothing happens to a run by itself.
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "blocked", "lost"})

#: The termination reason a run gets when its worker died under it.
LOST_REASON = "lost"

_FROM_ENGINE = {
    "pending": "queued",
    "running": "running",
    "done": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "blocked": "blocked",
}


def derive_status(
    engine_status: str, *, deleting: bool = False, termination_reason: str | None = None
) -> str:
    """The UI status of a task from its current run's engine status and its marks.

    First match wins: a deleting mark, then a failure whose reason is "lost" (the worker
    died), then the engine status mapped to its UI name.
    """
    if deleting:
        return "deleting"
    value = getattr(engine_status, "value", engine_status)
    if value == "failed" and termination_reason == LOST_REASON:
        return "lost"
    try:
        return _FROM_ENGINE[value]
    except KeyError:
        raise ValueError(f"unknown engine status {engine_status!r}") from None


def check_ui_status(status: str) -> str:
    """Return ``status`` if it is a UI status, else raise ValueError listing the valid ones."""
    if status not in UI_STATUSES:
        raise ValueError(f"Unknown status {status!r}; expected one of: {', '.join(UI_STATUSES)}")
    return status
