"""How a workflow is shown: members in dependency order with what each runs after and, for a
blocked member, the parent that blocked it (as the engine recorded it). No Flask here.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass


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
    leftover = [t for t in position if t not in set(order)]  # only if stored data had a cycle
    return order + leftover


def members(graph) -> list[Member]:
    """The graph's members in dependency order, each with its parents and blockers."""
    by_id = {task.task_id: task for task in graph.members}
    finally_tasks, optional = set(graph.finally_tasks), set(graph.optional_tasks)
    out = []
    for task_id in dependency_order(graph):
        task = by_id[task_id]
        after = [by_id[d] for d in graph.dependencies.get(task_id, ()) if d in by_id]
        parent = graph.blocked_by.get(task_id)
        blocked_by = [by_id[parent]] if parent in by_id else []
        out.append(Member(task, after, blocked_by, task_id in finally_tasks, task_id in optional))
    return out
