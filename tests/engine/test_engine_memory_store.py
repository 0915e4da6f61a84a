"""InMemoryStore and the Store protocol: behaviours 53-54."""

from __future__ import annotations

import pytest

from webapp.engine import Task, TaskGraph
from webapp.store import InMemoryStore, Store


def test_live_references_in_insertion_order():  # behaviour 53
    store = InMemoryStore()
    tasks = [Task.bash(str(i)) for i in range(3)]
    for task in reversed(tasks):
        store.tasks.save(task)
    assert store.tasks[tasks[0].id] is tasks[0]
    assert list(store.tasks) == [t.id for t in reversed(tasks)]
    graph = TaskGraph()
    store.graphs[graph.id] = graph
    assert store.graphs[graph.id] is graph and graph in store.graphs
    assert isinstance(store, Store)


def test_collection_checks():  # behaviour 53
    store, task = InMemoryStore(), Task.bash("")
    with pytest.raises(ValueError, match="task_id must match task.id"):
        store.tasks["other"] = task
    with pytest.raises(TypeError, match="Expected Task, got str"):
        store.tasks.save("x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Expected TaskGraph, got Task"):
        store.graphs.save(task)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="graph_id must match graph.id"):
        store.graphs["x"] = TaskGraph()
    with pytest.raises(KeyError):
        store.tasks["missing"]
    with pytest.raises(KeyError):
        del store.tasks["missing"]
    store.tasks.save(task)
    assert task in store.tasks and task.id in store.tasks
    assert [] not in store.tasks and 5 not in store.tasks  # unhashable or non-str: False
    del store.tasks[task.id]
    assert task not in store.tasks


def test_reprs_and_in_place_cancel():  # behaviour 54
    store, task = InMemoryStore(), Task.bash("")
    store.tasks.save(task)
    store.graphs.save(TaskGraph())
    store.graphs.save(TaskGraph())
    assert repr(store.tasks) == "InMemoryTaskCollection(1 tasks)"
    assert repr(store.graphs) == "InMemoryGraphCollection(2 graphs)"
    assert repr(store) == "InMemoryStore(1 tasks, 2 graphs)"
    store.tasks.cancel(task.id)
    assert task.is_cancelled and task.result is None
