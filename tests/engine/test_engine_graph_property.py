"""Property test: random DAGs with random failures always end consistent with their parents."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.engine import Task, TaskExecutor, TaskGraph, TaskStatus, TaskType

S = TaskStatus


@st.composite
def dags(draw):
    """(parents per node, finally flags, required flags, failing nodes, max_workers)."""
    size = draw(st.integers(min_value=1, max_value=15))
    parents, finals, required = [], [], []
    for node in range(size):
        earlier = list(range(node))
        parents.append(draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else [])
        finals.append(draw(st.booleans()))
        required.append(not finals[-1] or draw(st.booleans()))
    failing = draw(st.sets(st.integers(min_value=0, max_value=size - 1)))
    order = draw(st.permutations(range(size)))  # insertion order differs from topology
    return parents, finals, required, failing, order, draw(st.integers(1, 4))


@settings(max_examples=80, deadline=None, database=None)
@given(dags())
def test_random_dags_end_consistent(dag):
    parents, finals, required, failing, order, max_workers = dag
    tasks = [Task.bash(str(i), title=f"t{i}") for i in range(len(parents))]
    started: list[int] = []
    violations: list[str] = []
    lock = threading.Lock()
    active = [0, 0]  # now, peak

    def handler(ctx):
        node = int(ctx.payload)
        with lock:
            active[0] += 1
            active[1] = max(active[1], active[0])
            started.append(node)
        for parent in parents[node]:
            if tasks[parent].status.is_active:
                violations.append(f"t{node} started before t{parent} finished")
        with lock:
            active[0] -= 1
        if node in failing:
            raise RuntimeError(f"t{node} fails")
        return "ok"

    executor = TaskExecutor.empty()
    executor.register(TaskType.BASH, handler)
    graph = TaskGraph()
    for node in order:
        graph.add(
            tasks[node],
            after=[tasks[p] for p in parents[node]],
            finally_=finals[node],
            required=required[node],
        )
    graph.run(executor, max_workers=max_workers)

    assert violations == []
    assert active[1] <= max_workers
    assert len(started) == len(set(started))  # nothing ran twice
    for node, task in enumerate(tasks):
        assert task.is_terminal
        bad_parents = [p for p in parents[node] if tasks[p].status is not S.DONE]
        if bad_parents and not finals[node]:
            assert task.is_blocked and node not in started
            assert task.blocked_by in {tasks[p].id for p in bad_parents}
        else:
            assert node in started
            assert task.status is (S.FAILED if node in failing else S.DONE)
    assert set(graph.errors) == {tasks[n].id for n in failing if n in started}
    assert graph.ok == all(t.is_done for n, t in enumerate(tasks) if required[n])
    assert [t.title for t in graph] == [f"t{n}" for n in order]
