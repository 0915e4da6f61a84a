"""SQL of ``graph_member_keys``: each workflow member's key in its definition."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from sqlite_utils import Database


def remember_keys(db: Database, graph_id: str, keys: Mapping[str, str]) -> None:
    """Store run id -> key for a graph's members (inside the graph's insert transaction)."""
    rows = [{"run_id": run_id, "graph_id": graph_id, "key": key} for run_id, key in keys.items()]
    if rows:
        db["graph_member_keys"].insert_all(rows, pk="run_id", replace=True)


def keys_of(db: Database, run_ids: Iterable[str]) -> dict[str, str]:
    """Definition keys of these member runs (run id -> key)."""
    sql = (
        "SELECT run_id, key FROM graph_member_keys WHERE run_id IN (SELECT value FROM json_each(?))"
    )
    return dict(db.execute(sql, [json.dumps(list(run_ids))]).fetchall())
