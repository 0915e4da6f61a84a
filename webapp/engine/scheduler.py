"""One run of a TaskGraph: validation and an O(V+E) scheduler over a fixed pool of threads.

Each task is "settled" exactly once per run (good: DONE without error; bad: anything else).
Settling a task visits its children once: it decrements their count of unsettled parents,
blocks a normal child at once when the parent is bad, and queues a child whose parents are
all settled. Nothing ever rescans the graph.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

from webapp.engine.task import Task, TaskStatus

if TYPE_CHECKING:
    from webapp.engine.graph import TaskGraph

_STOP = -1


def _label(task: Task) -> str:
    return task.title if task.title else task.id


class GraphRun:
    """Validated, indexed form of a graph, ready to run once."""

    def __init__(self, graph: TaskGraph, executor: Any, max_workers: int) -> None:
        self.executor = executor
        self.max_workers = max_workers
        self.tasks: list[Task] = list(graph._tasks.values())
        index = {task.id: i for i, task in enumerate(self.tasks)}
        for task in self.tasks:
            if task.status is TaskStatus.RUNNING:
                raise ValueError(f"task {_label(task)!r} is RUNNING; reset before run()")
        self.parents: list[list[int]] = []
        for task in self.tasks:
            try:
                self.parents.append([index[dep] for dep in graph._deps[task.id]])
            except KeyError as exc:
                raise ValueError(
                    f"task {_label(task)!r} depends on unregistered task id {exc.args[0]!r}"
                ) from None
        self.children: list[list[int]] = [[] for _ in self.tasks]
        for child, parents in enumerate(self.parents):
            for parent in parents:
                self.children[parent].append(child)
        self.is_finally = [task.id in graph._finally for task in self.tasks]
        self._check_acyclic()

    def _check_acyclic(self) -> None:
        """Kahn's algorithm; on failure name one cycle, e.g. "a -> b -> a"."""
        indegree = [len(p) for p in self.parents]
        ready = [i for i, d in enumerate(indegree) if d == 0]
        seen = 0
        while ready:
            node = ready.pop()
            seen += 1
            for child in self.children[node]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        if seen == len(self.tasks):
            return
        # Every node left has a parent that is also left: walk parents until one repeats.
        node = next(i for i, d in enumerate(indegree) if d > 0)
        path: dict[int, int] = {}
        while node not in path:
            path[node] = len(path)
            node = next(p for p in self.parents[node] if indegree[p] > 0)
        cycle = list(path)[path[node] :] + [node]
        names = " -> ".join(_label(self.tasks[i]) for i in reversed(cycle))
        raise ValueError(f"TaskGraph contains a cycle: {names}")

    # -- the run -------------------------------------------------------------------------------
    def run(self, errors: dict[str, BaseException]) -> None:
        """Run to completion, filling ``errors``; an interrupt cancels what runs, re-raises."""
        self.errors = errors
        count = len(self.tasks)
        self.unsettled_parents = [len(p) for p in self.parents]
        self.settled = [False] * count
        self.bad = [False] * count
        self.decided = [False] * count
        self.settled_count = 0
        self.inflight = 0
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.ready: SimpleQueue[int] = SimpleQueue()
        self.running: set[int] = set()
        self.aborted = False

        self.failure: BaseException | None = None
        to_launch: list[int] = []
        with self.lock:
            # DONE satisfies its children and CANCELLED stays: neither is ever submitted.
            sinks = [i for i, task in enumerate(self.tasks) if task.status.is_sink]
            for i in sinks:
                self.decided[i] = True
            for i in sinks:
                self._settle(i, self.tasks[i].status is not TaskStatus.DONE, to_launch)
            for i in range(count):
                if not self.decided[i] and self.unsettled_parents[i] == 0:
                    self._decide(i, to_launch)
            self._launch(to_launch)
            self._check_progress()
        if self.settled_count == count:
            return
        workers: list[threading.Thread] = []
        try:
            for i in range(min(self.max_workers, count - self.settled_count)):
                workers.append(threading.Thread(target=self._work, name=f"graph-{i}", daemon=True))
                workers[-1].start()
            self.finished.wait()
        except BaseException:
            self._abort()
            raise
        finally:
            for _ in workers:
                self.ready.put(_STOP)
            for worker in workers:
                if worker.ident is not None:  # an interrupted start() may not have begun it
                    worker.join()
        if self.failure is not None:
            raise self.failure

    def _work(self) -> None:
        execute: Callable[..., Any] = self.executor.execute
        mine: int | None = None  # a node this worker readied and runs itself (no hand-off)
        while True:
            i = self.ready.get() if mine is None else mine
            if i == _STOP:
                return
            task = self.tasks[i]
            error: BaseException | None = None
            if not self.aborted:  # after an interrupt, queued tasks stay as they are
                upstream = {self.tasks[p].id: self.tasks[p] for p in self.parents[i]}
                try:
                    execute(task, upstream)
                except BaseException as exc:  # recorded in graph.errors, never lost
                    error = exc
            to_launch: list[int] = []
            with self.lock:
                try:
                    self.inflight -= 1
                    self.running.discard(i)
                    if error is not None:
                        self.errors[task.id] = error
                    bad = error is not None or task.status is not TaskStatus.DONE
                    self._settle(i, bad, to_launch)
                    mine = self._launch(to_launch, keep_one=True)
                    self._check_progress()
                except BaseException as exc:  # a scheduler bug must not hang run()
                    self.failure = exc
                    self.finished.set()
                    raise

    # -- bookkeeping, always under self.lock ----------------------------------------------------
    def _settle(self, node: int, bad: bool, to_launch: list[int]) -> None:
        """Record ``node``'s outcome and propagate it to its descendants (iteratively)."""
        stack = [(node, bad)]
        while stack:
            node, bad = stack.pop()
            self.settled[node] = True
            self.bad[node] = bad
            self.settled_count += 1
            for child in self.children[node]:
                self.unsettled_parents[child] -= 1
                if self.decided[child]:
                    continue
                if bad and not self.is_finally[child]:
                    self.decided[child] = True
                    self._block(child)
                    stack.append((child, True))
                elif self.unsettled_parents[child] == 0:
                    self._decide(child, to_launch, stack)
        if self.settled_count == len(self.tasks):
            self.finished.set()

    def _decide(self, node: int, to_launch: list[int], stack: list | None = None) -> None:
        """All parents settled (and good, unless finally): run ``node`` or settle it."""
        self.decided[node] = True
        task = self.tasks[node]
        if task.status.is_sink or self.aborted:  # cancelled meanwhile: never submitted
            bad = task.status is not TaskStatus.DONE
            if stack is None:
                self._settle(node, bad, to_launch)
            else:
                stack.append((node, bad))
            return
        to_launch.append(node)

    def _block(self, node: int) -> None:
        """Mark a PENDING task BLOCKED by its first bad parent (others keep their status)."""
        task = self.tasks[node]
        if task.status is not TaskStatus.PENDING:
            return  # FAILED/BLOCKED carry-overs stay as they are, without a new event
        parent = next(p for p in self.parents[node] if self.settled[p] and self.bad[p])
        try:
            self.executor.mark_blocked(task, self.tasks[parent].id)
        except ValueError:
            pass  # cancelled meanwhile: it stays CANCELLED
        except BaseException as exc:  # e.g. a subscriber's interrupt: BLOCKED all the same
            self.errors[task.id] = exc

    def _launch(self, nodes: list[int], keep_one: bool = False) -> int | None:
        """Count ``nodes`` as in flight and queue them, first come first served; nodes
        readied together go in insertion order.

        With ``keep_one`` and nothing else waiting, the first is returned for the calling
        worker to run next instead of being queued (no hand-off between threads); with a
        backlog everything is queued, so earlier-readied tasks keep their turn.
        """
        kept = None
        keep_one = keep_one and self.ready.empty()
        if len(nodes) > 1:
            nodes.sort()
        for node in nodes:
            self.inflight += 1
            self.running.add(node)
            if keep_one and kept is None:
                kept = node
            else:
                self.ready.put(node)
        nodes.clear()
        return kept

    def _check_progress(self) -> None:
        if self.inflight == 0 and self.settled_count < len(self.tasks):
            stuck = [_label(t) for i, t in enumerate(self.tasks) if not self.settled[i]]
            self.failure = RuntimeError(f"scheduler made no progress; stuck={stuck}")
            self.finished.set()

    def _abort(self) -> None:
        """Stop submitting, cancel what runs, and wait for it to end."""
        with self.lock:
            self.aborted = True
            running = [self.tasks[i] for i in self.running]
        for task in running:
            self.executor.cancel(task)
        self.finished.wait(timeout=30)
