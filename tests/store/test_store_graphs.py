"""SQLiteStore.graphs: atomic saves and faithful snapshots (behaviours 56 and 57)."""

from __future__ import annotations

from datetime import datetime

import pytest

from webapp.engine import Task, TaskStatus
from webapp.engine.graph import TaskGraph
from webapp.store.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path):
    return SQLiteStore(tmp_path / "app.db")


def _pipeline():
    """build -> (lint, test) -> package, plus an optional finally report after all of them."""
    graph = TaskGraph(title="pipeline")
    build, lint, test, package, report = (
        Task.bash(f"echo {name}", title=name)
        for name in ("build", "lint", "test", "package", "report")
    )
    graph.add(build)
    graph.add(package, after=[test, lint])  # added before its deps: position is kept
    graph.add(lint, after=[build])
    graph.add(test, after=[build])
    graph.add(report, after=[package, lint, test, build], finally_=True, required=False)
    return graph


def test_a_saved_graph_round_trips_order_edges_flags_and_members(store):
    graph = _pipeline()
    graph.created_at = datetime(2024, 3, 4, 5, 6, 7, 8)
    store.graphs.save(graph)
    loaded = store.graphs[graph.id]
    assert loaded is not graph
    assert (loaded.id, loaded.title, loaded.created_at) == (graph.id, "pipeline", graph.created_at)
    assert [task.title for task in loaded] == ["build", "package", "lint", "test", "report"]
    for original, copy in zip(graph, loaded, strict=True):
        assert copy == original and copy is not original
        assert [dep.id for dep in loaded.dependencies(copy)] == [
            dep.id for dep in graph.dependencies(original)
        ]
        assert loaded.is_finally(copy) == graph.is_finally(original)
        assert loaded.is_optional(copy) == graph.is_optional(original)
    assert [task.title for task in loaded.finally_tasks] == ["report"]
    assert [task.title for task in loaded.optional_tasks] == ["report"]
    assert repr(loaded) == repr(graph)


def test_saving_a_graph_stores_every_member_task_with_its_status(store):
    graph = _pipeline()
    build = next(iter(graph))
    build.transition_to(TaskStatus.RUNNING)
    store.graphs.save(graph)
    by_creation = ["build", "lint", "test", "package", "report"]
    assert [task.title for task in store.tasks.values()] == by_creation
    assert store.tasks[build.id].is_running
    assert store.graphs[graph.id].roots()[0].is_running


def test_resaving_replaces_membership_and_edges(store):
    graph = _pipeline()
    store.graphs.save(graph)
    first, *_ = graph
    extra = Task.bash("echo extra", title="extra")
    graph.add(extra, after=[first])
    graph.add(first, after=[])
    store.graphs.save(graph)
    loaded = store.graphs[graph.id]
    assert [task.title for task in loaded][-1] == "extra"
    assert [dep.title for dep in loaded.dependencies(loaded.leaves()[-1])] == ["build"]
    assert store.db["graph_tasks"].count == 6


def test_a_failing_member_leaves_nothing_of_the_graph_behind(store):
    graph = _pipeline()
    broken = Task(None, "echo", next(iter(graph)).type)  # a title the table refuses
    graph.add(broken, after=[next(iter(graph))])
    with pytest.raises(Exception, match="NOT NULL"):
        store.graphs.save(graph)
    assert graph.id not in store.graphs
    assert len(store.tasks) == 0
    assert store.db["graph_dependencies"].count == 0


def test_a_failing_resave_keeps_the_previous_graph(store):
    graph = _pipeline()
    store.graphs.save(graph)
    graph.title = "renamed"
    graph.add(Task(None, "echo", next(iter(graph)).type))
    with pytest.raises(Exception, match="NOT NULL"):
        store.graphs.save(graph)
    loaded = store.graphs[graph.id]
    assert loaded.title == "pipeline" and len(loaded) == 5


def test_an_unregistered_dependency_is_a_clean_value_error_and_saves_nothing(store):
    graph = TaskGraph(title="broken")
    graph.add(Task.bash("echo child", title="child"), after=[Task.bash("echo ghost")])
    with pytest.raises(ValueError, match="unregistered"):
        store.graphs.save(graph)
    assert len(store.tasks) == 0 and len(store.graphs) == 0


def test_loading_a_graph_takes_the_same_queries_whatever_its_size(store):
    def queries_to_load(size):
        graph = TaskGraph(title=f"chain of {size}")
        previous = []
        for number in range(size):
            previous = [graph.add(Task.bash(f"echo {number}"), after=previous)]
        store.graphs.save(graph)
        statements = []
        with store.db.tracer(lambda sql, params: statements.append(sql)):
            assert len(store.graphs[graph.id]) == size
        return len(statements)

    assert queries_to_load(2) == queries_to_load(40)


def test_deleting_a_graph_keeps_its_tasks_and_deleting_a_task_drops_it_from_graphs(store):
    graph = _pipeline()
    store.graphs.save(graph)
    build, package, *_ = graph
    del store.tasks[build.id]
    loaded = store.graphs[graph.id]
    assert build not in loaded and len(loaded) == 4
    assert [dep.title for dep in loaded.dependencies(package)] == ["test", "lint"]
    del store.graphs[graph.id]
    assert graph.id not in store.graphs and graph not in store.graphs
    assert len(store.tasks) == 4
    with pytest.raises(KeyError):
        del store.graphs[graph.id]
    with pytest.raises(KeyError):
        store.graphs[graph.id]


def test_graph_mapping_surface(tmp_path):
    store = SQLiteStore(tmp_path / "app.db")
    early, late = TaskGraph(title="early"), TaskGraph(title="late")
    late.created_at, early.created_at = datetime(2024, 2, 1), datetime(2024, 1, 1)
    store.graphs[late.id] = late
    store.graphs.save(early)
    assert list(store.graphs) == [early.id, late.id]
    assert [graph.title for graph in store.graphs.values()] == ["early", "late"]
    assert [graph_id for graph_id, _ in store.graphs.items()] == [early.id, late.id]
    assert len(store.graphs) == 2 and early in store.graphs and ["x"] not in store.graphs
    assert repr(store.graphs) == "SQLiteGraphCollection(2 graphs)"
    with pytest.raises(ValueError, match="graph_id must match graph.id"):
        store.graphs["other"] = early
    with pytest.raises(TypeError, match="Expected TaskGraph, got Task"):
        store.graphs.save(Task.bash("echo"))
    assert SQLiteStore(tmp_path / "app.db").graphs[early.id].title == "early"


def test_memory_store_graphs_are_private_to_the_instance():
    first, second = SQLiteStore(":memory:"), SQLiteStore(":memory:")
    graph = _pipeline()
    first.graphs.save(graph)
    assert len(first.graphs[graph.id]) == 5
    assert graph.id not in second.graphs and len(second.tasks) == 0
