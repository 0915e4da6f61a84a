"""The workflow picture: a layered (Sugiyama) layout from igraph, drawn as SVG on the server.

Siblings with the same parents, children and flags (a fan-out) collapse into one group node
once there are ``GROUP_MIN`` of them, so a 1 -> 200 -> 1 workflow is three nodes. The layout
depends only on the definition (members and edges), so it is computed once per definition and
cached; a poll re-draws the same geometry with the current statuses. No Flask here.

igraph was chosen by measurement (bench notes in README): 2,000 nodes in 0.08 s where
grandalf's pure-Python Sugiyama took 1 s for 500.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import igraph
from markupsafe import Markup, escape

from webapp.orchestration.status import UI_STATUSES

GROUP_MIN = 6
"""Siblings sharing parents and children collapse into one node from this many on."""
NODE_W, NODE_H = 184, 50
GAP_X, GAP_Y = 28, 54
MARGIN = 12
NAME_CHARS = 22
# Which status a group node wears: the first one any of its members has; what is happening
# or went wrong comes first, then the UI's own order.
_FIRST = ("running", "failed", "lost")
GROUP_STATUS_ORDER = _FIRST + tuple(s for s in UI_STATUSES if s not in _FIRST)


@dataclass(frozen=True)
class Node:
    """One box of the picture: a member, or a group of sibling members."""

    node_id: str
    """``t-<task_id>`` for a member, ``g-<first member's task_id>`` for a group."""
    members: tuple[str, ...]
    x: float
    y: float

    @property
    def is_group(self) -> bool:
        return self.node_id.startswith("g-")


@dataclass(frozen=True)
class Edge:
    """A line from one node to another; ``pairs`` are the member edges it stands for."""

    edge_id: str
    source: str
    target: str
    path: str
    pairs: frozenset


@dataclass(frozen=True)
class Layout:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float
    node_of: dict
    """task_id -> node_id."""
    node_parts: tuple = ()
    """Per node, its SVG with ``{cls}``, ``{status}``, ``{title}``, ``{detail}``, ``{tip}`` and
    ``{href}`` left to fill (geometry rendered once per definition)."""


def structure(graph) -> tuple:
    """What the layout depends on: members, what each runs after, their finally/optional flags
    (hashable, the cache key)."""
    present = {task.task_id for task in graph.members}
    finally_tasks, optional = set(graph.finally_tasks), set(graph.optional_tasks)
    return tuple(
        (
            task.task_id,
            tuple(d for d in graph.dependencies.get(task.task_id, ()) if d in present),
            task.task_id in finally_tasks,
            task.task_id in optional,
        )
        for task in graph.members
    )


def layout_of(graph) -> Layout:
    return _layout(structure(graph))


@lru_cache(maxsize=32)
def _layout(shape: tuple) -> Layout:
    groups = _groups(shape)
    if not groups:
        return Layout((), (), 2 * MARGIN, 2 * MARGIN, {})
    node_of = {task_id: node_id for node_id, members in groups for task_id in members}
    index = {node_id: i for i, (node_id, _) in enumerate(groups)}
    pairs: dict[tuple[str, str], set] = {}
    for task_id, parents, _, _ in shape:
        for parent in parents:
            key = (node_of[parent], node_of[task_id])
            pairs.setdefault(key, set()).add((parent, task_id))
    edge_list = [(index[a], index[b]) for a, b in pairs]
    layers = _longest_path_layers(len(groups), edge_list)
    coords = (
        igraph.Graph(n=len(groups), edges=edge_list, directed=True)
        .layout_sugiyama(layers=layers, maxiter=20 if len(groups) > 500 else 100)
        .coords[: len(groups)]
    )
    min_x = min((x for x, _ in coords), default=0.0)
    nodes = []
    for (node_id, members), (x, y) in zip(groups, coords, strict=True):
        left = MARGIN + (x - min_x) * (NODE_W + GAP_X)
        nodes.append(Node(node_id, members, left, MARGIN + y * (NODE_H + GAP_Y)))
    by_id = {node.node_id: node for node in nodes}
    edges = tuple(
        Edge(f"e-{source}-{target}", source, target,
             _curve(by_id[source], by_id[target]), frozenset(member_pairs))
        for (source, target), member_pairs in pairs.items()
    )  # fmt: skip
    width = max((n.x for n in nodes), default=0.0) + NODE_W + MARGIN
    height = max((n.y for n in nodes), default=0.0) + NODE_H + MARGIN
    parts = tuple(_node_part(node) for node in nodes)
    return Layout(tuple(nodes), edges, width, height, node_of, parts)


def _node_part(node: Node) -> str:
    x, y = round(node.x), round(node.y)
    group = " group" if node.is_group else ""
    return (
        f'<a href="{{href}}" id="{node.node_id}" class="node status-{{status}}{group}" '
        f'data-status="{{status}}" data-name="{{title}}"><title>{{tip}}</title>'
        f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
        f'<text x="{x + 10}" y="{y + 20}" class="node-name">{{title}}</text>'
        f'<text x="{x + 10}" y="{y + 39}" class="node-detail">{{detail}}</text></a>'
    )


def svg_body(layout: Layout, nodes: list, blocked: set[str]) -> Markup:
    """The picture's edges and nodes as SVG markup (text escaped), statuses filled in."""
    out = ['<g class="edges">']
    for edge in layout.edges:
        cls = "edge blocked" if edge.edge_id in blocked else "edge"
        out.append(f'<path id="{edge.edge_id}" class="{cls}" d="{edge.path}" '
                   'marker-end="url(#arrow)"/>')  # fmt: skip
    out.append('</g><g class="nodes">')
    for part, view in zip(layout.node_parts, nodes, strict=True):
        # status and detail are made of status words, icons and numbers
        out.append(part.format(href=escape(view.href), status=view.status, title=escape(view.title),
                               tip=escape(view.tooltip), detail=view.detail))  # fmt: skip
    out.append("</g>")
    return Markup("\n".join(out))


def _groups(shape: tuple) -> list[tuple[str, tuple[str, ...]]]:
    """(node_id, member task_ids) in definition order of each node's first member."""
    children: dict[str, list[str]] = {task_id: [] for task_id, *_ in shape}
    for task_id, parents, _, _ in shape:
        for parent in parents:
            children[parent].append(task_id)
    by_key: dict[tuple, list[str]] = {}
    for task_id, parents, is_finally, is_optional in shape:
        key = (frozenset(parents), frozenset(children[task_id]), is_finally, is_optional)
        by_key.setdefault(key, []).append(task_id)
    out: list[tuple[str, tuple[str, ...]]] = []
    for members in by_key.values():
        if len(members) >= GROUP_MIN:
            out.append((f"g-{members[0]}", tuple(members)))
        else:
            out.extend((f"t-{task_id}", (task_id,)) for task_id in members)
    first = {task_id: i for i, (task_id, *_) in enumerate(shape)}
    return sorted(out, key=lambda item: first[item[1][0]])


def _longest_path_layers(n: int, edges: list[tuple[int, int]]) -> list[int]:
    """Each node one layer below its deepest parent (Kahn's order; linear)."""
    children: list[list[int]] = [[] for _ in range(n)]
    waiting = [0] * n
    for a, b in edges:
        children[a].append(b)
        waiting[b] += 1
    layer = [0] * n
    ready = [i for i in range(n) if waiting[i] == 0]
    while ready:
        node = ready.pop()
        for child in children[node]:
            layer[child] = max(layer[child], layer[node] + 1)
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return layer


def _curve(source: Node, target: Node) -> str:
    x1, y1 = source.x + NODE_W / 2, source.y + NODE_H
    x2, y2 = target.x + NODE_W / 2, target.y
    bend = max(GAP_Y / 2, (y2 - y1) / 2)
    return (
        f"M{x1:.0f},{y1:.0f} C{x1:.0f},{y1 + bend:.0f} {x2:.0f},{y2 - bend:.0f} {x2:.0f},{y2:.0f}"
    )


@dataclass(slots=True)
class NodeView:
    """A node as drawn now: its box, status and the lines of text in it."""

    node: Node
    status: str
    title: str
    detail: str
    href: str
    tooltip: str
    counts: dict


def _short(text: str, limit: int = NAME_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def views(graph, layout: Layout, *, task_url: str, group_url: str, label, icon, duration):
    """The nodes with their current statuses (``label``/``icon``/``duration`` format them)."""
    by_id = {task.task_id: task for task in graph.members}
    out = []
    for node in layout.nodes:
        tasks = [by_id[t] for t in node.members if t in by_id]
        if node.is_group:
            counts = Counter(task.status for task in tasks)
            ordered = {s: counts[s] for s in UI_STATUSES if counts.get(s)}
            status = next((s for s in GROUP_STATUS_ORDER if counts.get(s)), "queued")
            summary = ", ".join(f"{n} {label(s)}" for s, n in ordered.items())
            first, last = tasks[0].name, tasks[-1].name
            out.append(NodeView(
                node, status, _short(f"{len(tasks)} tasks · {first}"),
                "  ".join(f"{icon(s)} {n}" for s, n in ordered.items()),
                group_url + node.node_id, f"{len(tasks)} tasks: {summary} ({first} … {last})",
                ordered,
            ))  # fmt: skip
        else:
            task = tasks[0]
            took = duration(task)
            detail = f"{icon(task.status)} {label(task.status)}" + (f" · {took}" if took else "")
            out.append(NodeView(node, task.status, _short(task.name), detail,
                                task_url + task.task_id,
                                f"{task.name} ({label(task.status)})", {}))  # fmt: skip
    return out


def blocked_edges(graph, layout: Layout) -> set[str]:
    """IDs of the edges from the member that blocked a member to it."""
    blocked = {(parent, child) for child, parent in graph.blocked_by.items()}
    return {edge.edge_id for edge in layout.edges if edge.pairs & blocked}
