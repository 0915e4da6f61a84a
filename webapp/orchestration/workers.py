"""The worker processes as the operations endpoints see them (read only)."""

from __future__ import annotations

from typing import Any

from webapp.orchestration import context
from webapp.store import workers as worker_rows


def live_workers() -> list[dict[str, Any]]:
    """Workers neither stopped nor reaped: ``id``, ``hostname``, ``heartbeat_at``, ..."""
    return worker_rows.live_worker_rows(context.db())
