"""What the CLI changes goes on the audit log, under the names the dashboard and API use."""

from __future__ import annotations

from webapp import orchestration as orch
from webapp.accounts import audit
from webapp.cli.users import SHELL


def record(actor: str, action: str, target: str, detail: str = "") -> None:
    """Put one CLI change on record (inside ``bound``: the installation's database)."""
    audit.record(
        orch.current().store.db,
        actor=actor,
        action=action,
        target=target,
        detail=detail,
        address=SHELL,
    )
