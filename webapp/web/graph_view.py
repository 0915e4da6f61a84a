"""How a workflow is shown: members in dependency order with what each runs after and, for a
blocked member, the parent that blocked it (as the engine recorded it). No Flask here.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from types import SimpleNamespace

from webapp.web import graph_picture
from webapp.web.display import format_duration, status_label
from webapp.web.icons import status_glyph

GROUP_PAGE = 50
ROWS_PAGE = 50
MAX_LISTED_PARENTS = 5


@dataclass(frozen=True)
class Member:
    """One member task of a graph as its page shows it."""

    task: object
    """The member's TaskMeta."""
    after: list
    """TaskMetas of the members it runs after (definition order)."""
    blocked_by: list
    """While blocked: the parent whose failure (or block) blocked it, as a one-item list."""
    is_finally: bool
    is_optional: bool


def dependency_order(graph) -> list[str]:
    """Member task IDs so that each comes after what it runs after; ties keep the
    definition order. Members whose parents are gone (deleted) count as ready."""
    position = {task.task_id: index for index, task in enumerate(graph.members)}
    waiting = {
        task_id: {d for d in graph.dependencies.get(task_id, ()) if d in position}
        for task_id in position
    }
    children: dict[str, list[str]] = {task_id: [] for task_id in position}
    for task_id, parents in waiting.items():
        for parent in parents:
            children[parent].append(task_id)
    ready = [(position[t], t) for t, parents in waiting.items() if not parents]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, task_id = heapq.heappop(ready)
        order.append(task_id)
        for child in children[task_id]:
            waiting[child].discard(task_id)
            if not waiting[child]:
                heapq.heappush(ready, (position[child], child))
    placed = set(order)
    leftover = [t for t in position if t not in placed]  # only if stored data had a cycle
    return order + leftover


def members(graph) -> list[Member]:
    """The graph's members in dependency order, each with its parents and blockers."""
    return _members_of(graph, dependency_order(graph))


def _members_of(graph, task_ids) -> list[Member]:
    """Members for ``task_ids`` (in that order), each with its parents and blockers."""
    by_id = {task.task_id: task for task in graph.members}
    finally_tasks, optional = set(graph.finally_tasks), set(graph.optional_tasks)
    out = []
    for task_id in task_ids:
        if task_id not in by_id:
            continue
        task = by_id[task_id]
        after = [by_id[d] for d in graph.dependencies.get(task_id, ()) if d in by_id]
        parent = graph.blocked_by.get(task_id)
        blocked_by = [by_id[parent]] if parent in by_id else []
        out.append(Member(task, after, blocked_by, task_id in finally_tasks, task_id in optional))
    return out


@dataclass(frozen=True)
class Row:
    """One row of the members table: a member, or a whole fan-out group."""

    member: Member | None
    group: graph_picture.NodeView | None
    after_count: int
    """How many members it runs after (listed by name only up to MAX_LISTED_PARENTS)."""
    after_group: str | None
    """The group node its parents form, when they are exactly one group."""


def picture_context(
    graph,
    *,
    group: str | None = None,
    page: object = None,
    task_url: str | None = None,
    rows_page: object = None,
) -> dict:
    """The picture (layout cached per definition), the table rows (groups folded) and, when
    ``group`` names a group node, one page of its members."""
    layout = graph_picture.layout_of(graph)
    base = f"/projects/{graph.project_id}"
    nodes = graph_picture.views(
        graph, layout, task_url=task_url or f"{base}/tasks/", group_url="?group=",
        label=status_label,
        icon=status_glyph, duration=_finished_duration,
    )  # fmt: skip
    by_node = {view.node.node_id: view for view in nodes}
    present = {task.task_id for task in graph.members}
    rows, seen = [], set()
    for task_id in dependency_order(graph):
        node_id = layout.node_of.get(task_id)
        if node_id in seen:
            continue
        seen.add(node_id)
        parents = [p for p in graph.dependencies.get(task_id, ()) if p in present]
        parent_nodes = {layout.node_of.get(p) for p in parents}
        after_group = next(iter(parent_nodes)) if len(parent_nodes) == 1 else None
        after_group = after_group if after_group and after_group.startswith("g-") else None
        view = by_node.get(node_id)
        group_view = view if view is not None and view.node.is_group else None
        rows.append((task_id, group_view, len(parents), after_group))
    shown = by_node.get(group) if group else None
    group_page, pages = [], 0
    if shown is not None and shown.node.is_group:
        pages = -(-len(shown.node.members) // GROUP_PAGE)
        number = min(max(_page(page), 1), pages)
        group_page = _members_of(
            graph, shown.node.members[(number - 1) * GROUP_PAGE : number * GROUP_PAGE]
        )
        page = number
    else:
        shown = None
    blocked = graph_picture.blocked_edges(graph, layout)
    rows_page, row_pages = _page(rows_page), max(1, -(-len(rows) // ROWS_PAGE))
    rows_page = min(max(rows_page, 1), row_pages)
    return {
        "layout": layout, "nodes": nodes, "blocked_edges": blocked,
        "svg_body": graph_picture.svg_body(layout, nodes, blocked),
        "rows": _rows(graph, rows[(rows_page - 1) * ROWS_PAGE : rows_page * ROWS_PAGE]),
        "rows_page": rows_page, "row_pages": row_pages, "rows_offset": (rows_page - 1) * ROWS_PAGE,
        "group": shown, "group_members": group_page, "group_pages": pages,
        "group_page_no": page if shown else 1, "max_listed": MAX_LISTED_PARENTS,
        "node_w": graph_picture.NODE_W, "node_h": graph_picture.NODE_H,
    }  # fmt: skip


def _page(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 1


def _finished_duration(task) -> str:
    """A finished member's duration (a running one's would change the picture every poll)."""
    return "" if task.duration is None else format_duration(task.duration)


def preview_graph(project_id: str, definition: dict):
    """A checked definition as a graph-like object whose members are all queued (for the
    picture shown before a definition is saved or run); member IDs are the keys."""
    tasks = [
        SimpleNamespace(task_id=t["key"], name=t.get("name") or t["key"], status="queued",
                        duration=None, payload=t["payload"], type=t.get("type", "bash"))
        for t in definition["tasks"]
    ]  # fmt: skip
    return SimpleNamespace(
        project_id=project_id, title=definition["title"], members=tasks,
        dependencies={t["key"]: list(t.get("after", [])) for t in definition["tasks"]},
        finally_tasks=[t["key"] for t in definition["tasks"] if t.get("finally")],
        optional_tasks=[t["key"] for t in definition["tasks"] if t.get("required") is False],
        blocked_by={},
    )  # fmt: skip


def _rows(graph, page: list[tuple]) -> list[Row]:
    """Table rows for one page: Member objects only for the members shown."""
    found = {m.task.task_id: m for m in _members_of(graph, [r[0] for r in page if r[1] is None])}
    return [Row(found.get(task_id) if group is None else None, group, count, after_group)
            for task_id, group, count, after_group in page]  # fmt: skip
