"""Why a run ended, in words a reader understands (the stored value is an internal code)."""

from __future__ import annotations

from flask import Flask

from webapp.orchestration.status import LOST_REASON

REASONS = {
    "exit_code": "the command finished by itself",
    "timeout": "it ran past its time limit and was stopped",
    "cancelled": "someone stopped it",
    "handler": "the task could not be run (see the error)",
    LOST_REASON: "its process was lost (the server or worker stopped while it ran)",
}


def ended_because(reason: object, exit_code: object = None) -> str:
    """``"exit_code"`` with 3 -> ``"the command exited with code 3"``; unknown text as it is."""
    if reason is None or reason == "":
        return ""
    if reason == "exit_code" and exit_code not in (None, ""):
        return "the command exited successfully" if exit_code == 0 else (
            f"the command exited with code {exit_code}")  # fmt: skip
    return REASONS.get(str(reason), str(reason))


def init_app(app: Flask) -> None:
    app.add_template_global(ended_because)
