"""TaskGraph: behaviours 52 and 59-75, bug 13 (unregistered deps), named cycles."""

from __future__ import annotations

import signal
import threading
import time
from datetime import datetime

import pytest

from webapp.engine import (
    Task,
    TaskCancelled,
    TaskEventType,
    TaskExecutionError,
    TaskExecutor,
    TaskGraph,
    TaskStatus,
    TaskType,
    make_bash_handler,
)
from webapp.store import InMemoryStore

E = TaskEventType
S = TaskStatus


def scripted(fail: set[str] = frozenset(), log: list | None = None):
    """A handler failing tasks whose payload is in ``fail``; appends payloads to ``log``."""

    def handler(ctx):
        if log is not None:
            log.append(ctx.payload)
        if ctx.payload in fail:
            raise RuntimeError(f"{ctx.payload} failed")
        return ctx.payload

    return handler


def named(*names: str) -> list[Task]:
    return [Task.bash(name, title=name) for name in names]


def test_title_id_created_at():  # behaviour 60
    with pytest.raises(TypeError, match="title must be a str"):
        TaskGraph(title=42)  # type: ignore[arg-type]
    before = datetime.now()
    graph = TaskGraph(title="g")
    assert before <= graph.created_at <= datetime.now()
    with pytest.raises(AttributeError):
        graph.id = "x"  # type: ignore[misc]


def test_add_order_dedup_and_readd():  # behaviour 61
    a, b, c = named("a", "b", "c")
    graph = TaskGraph()
    graph[a] = []
    graph.add(b, after=[a, a])
    graph.add(c, after=[a])
    assert list(graph) == [a, b, c] and graph[b] == [a]
    graph.add(a, after=[], finally_=True, required=False)
    graph.add(b, after=[c])
    assert list(graph) == [a, b, c] and graph.dependencies(b) == [c]
    assert graph.is_finally(a) and graph.is_optional(a)
    graph.add(a)
    assert not graph.is_finally(a) and not graph.is_optional(a)


def test_add_validation():  # behaviour 62
    graph, task = TaskGraph(), Task.bash("")
    with pytest.raises(TypeError, match="Expected Task, got object"):
        graph.add(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Expected Task dependency, got object"):
        graph.add(task, after=[object()])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="finally_ must be a bool"):
        graph.add(task, finally_=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="required must be a bool"):
        graph.add(task, required=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="required=False is only valid with finally_=True"):
        graph.add(task, required=False)


def test_membership_roots_leaves_repr():  # behaviour 63
    a, b, c, d = named("A", "B", "C", "D")
    graph = TaskGraph()
    graph.add(a)
    graph.add(b, after=[a])
    assert a in graph and "x" not in graph and 42 not in graph and c not in graph
    assert "TaskGraph(2 tasks" in repr(graph) and "A->B" in repr(graph)
    graph.add(c, after=[a])
    graph.add(d, after=[b, c])
    assert graph.roots() == [a] and graph.leaves() == [d] and len(graph) == 4


def test_unregistered_dependency_is_a_clean_valueerror(executor):  # bug 13, behaviour 64
    a, b = named("a", "b")
    graph = TaskGraph()
    graph.add(b, after=[a])
    message = f"task 'b' depends on unregistered task id '{a.id}'"
    for call in (lambda: graph.dependencies(b), graph.items, lambda: graph[b]):
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(ValueError, match=message):
        graph.run(executor)
    assert repr(graph) == f"TaskGraph(1 tasks, edges=[<unregistered {a.id}>->b])"


def test_run_validation(executor_with):  # behaviour 64, and cycles named
    ex = executor_with(scripted())
    a, b, c = named("a", "b", "c")
    graph = TaskGraph()
    graph.add(a)
    with pytest.raises(ValueError, match="max_workers must be greater than 0"):
        graph.run(ex, max_workers=0)
    a.transition_to(S.RUNNING)
    with pytest.raises(ValueError, match="task 'a' is RUNNING; reset before run"):
        graph.run(ex)
    for edges, cycle in [
        ({"a": ["a"]}, "a -> a"),
        ({"a": ["b"], "b": ["a"]}, "a -> b -> a"),
        ({"a": ["c"], "b": ["a"], "c": ["b"]}, "a -> b -> c -> a"),
    ]:
        tasks = {name: Task.bash(name, title=name) for name in "abc"}
        cyclic = TaskGraph()
        for name, task in tasks.items():
            cyclic.add(task, after=[tasks[dep] for dep in edges.get(name, [])])
        with pytest.raises(ValueError, match="contains a cycle") as caught:
            cyclic.run(ex)
        assert str(caught.value) == f"TaskGraph contains a cycle: {cycle}"


def test_run_returns_the_graph_and_empty_graph_is_ok(executor_with):  # behaviour 65
    graph = TaskGraph()
    assert graph.run(executor_with(scripted())) is graph and graph.ok


def test_independent_tasks_run_concurrently_up_to_max_workers(executor_with):  # behaviour 66
    active, peak, lock = [0], [0], threading.Lock()

    def handler(ctx):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)  # the work being measured, not a wait for a condition
        with lock:
            active[0] -= 1

    graph = TaskGraph()
    for task in named(*"abcdefgh"):
        graph.add(task)
    graph.run(executor_with(handler), max_workers=3)
    assert peak[0] == 3 and graph.ok


def test_one_worker_runs_ready_tasks_first_come_first_served(executor_with):
    log: list[str] = []
    first, second, child, grandchild = named("first", "second", "child", "grandchild")
    graph = TaskGraph()
    graph.add(first)
    graph.add(second)
    graph.add(child, after=[first])
    graph.add(grandchild, after=[child])
    graph.run(executor_with(scripted(log=log)), max_workers=1)
    assert log == ["first", "second", "child", "grandchild"]  # second was waiting before child


def test_diamond_runs_its_two_middle_tasks_in_parallel(executor, tmp_path):  # behaviour 66
    # Each middle task marks its start and waits (up to 20 s) for the other's mark: both
    # succeed only when they run at the same time, however slow the machine is.
    def meet(me: str, other: str) -> str:
        return (f"touch {tmp_path}/{me}; for i in $(seq 400); do "
                f"[ -e {tmp_path}/{other} ] && exit 0; sleep 0.05; done; exit 1")  # fmt: skip

    top, bottom = Task.bash("true", title="T"), Task.bash("true", title="B")
    left, right = Task.bash(meet("L", "R"), title="L"), Task.bash(meet("R", "L"), title="R")
    graph = TaskGraph()
    graph.add(top)
    graph.add(left, after=[top])
    graph.add(right, after=[top])
    graph.add(bottom, after=[left, right])
    graph.run(executor)
    assert graph.ok and bottom.is_done
    assert left.result.started_at < right.result.finished_at  # the runs overlap
    assert right.result.started_at < left.result.finished_at


def test_failure_blocks_descendants(executor_with, recorder):  # behaviour 67
    a, b, c, x, y = named("a", "b", "c", "x", "y")
    graph = TaskGraph()
    graph.add(a)
    graph.add(x)
    graph.add(b, after=[x, a])
    graph.add(c, after=[b])
    graph.add(y, after=[x])
    graph.run(executor_with(scripted({"a"})))
    assert (a.status, b.status, c.status, x.status, y.status) == (
        S.FAILED,
        S.BLOCKED,
        S.BLOCKED,
        S.DONE,
        S.DONE,
    )
    assert b.blocked_by == a.id and c.blocked_by == b.id
    assert b.result is None and recorder.types(b) == [E.BLOCKED]
    assert recorder.of(E.BLOCKED, b)[0].previous_status is S.PENDING


def test_blocked_by_names_the_first_bad_parent_in_declaration_order(executor_with, wait_until):
    gate = threading.Event()

    def handler(ctx):
        if ctx.payload == "slow":
            gate.wait(5)
        raise RuntimeError(ctx.payload)

    slow, fast = Task.bash("slow", title="slow"), Task.bash("fast", title="fast")
    child = Task.bash("child")
    graph = TaskGraph()
    graph.add(slow)
    graph.add(fast)
    graph.add(child, after=[slow, fast])
    runner = threading.Thread(target=graph.run, args=(executor_with(handler),))
    runner.start()
    wait_until(lambda: child.is_blocked)  # behaviour 67
    assert child.blocked_by == fast.id  # blocked as soon as one parent failed
    gate.set()
    runner.join(timeout=5)
    assert graph.failed == [slow, fast]  # insertion order, not completion order


def test_errors_hold_what_execute_raised(wait_until):  # behaviour 68
    bad, missing, cancelled = Task.bash("exit 1"), Task.prompt("x"), Task.bash("sleep 30")
    ex = TaskExecutor.empty()
    ex.register(TaskType.BASH, make_bash_handler())
    graph = TaskGraph()
    for task in (bad, missing, cancelled):
        graph.add(task)
    runner = threading.Thread(target=graph.run, args=(ex,))
    runner.start()
    wait_until(lambda: ex.is_running(cancelled.id))
    ex.cancel(cancelled)
    runner.join(timeout=5)
    errors = graph.errors
    assert isinstance(errors[bad.id], TaskExecutionError)
    assert isinstance(errors[missing.id], ValueError)
    assert isinstance(errors[cancelled.id], TaskCancelled)
    bad.payload = "true"
    graph.add(missing, finally_=True, required=False)
    graph.run(ex)
    assert bad.id not in graph.errors and cancelled.id not in graph.errors  # cleared per run


def test_ok(executor_with):  # behaviour 69
    a, b = named("a", "b")
    graph = TaskGraph()
    graph.add(a)
    graph.add(b, after=[a])
    assert not graph.ok  # before a run
    graph.run(executor_with(scripted({"a"})))
    assert not graph.ok
    cancelled = TaskGraph()
    task = cancelled.add(Task.bash("c"))
    task.cancel()
    cancelled.run(executor_with(scripted()))
    assert not cancelled.ok


def test_finally_tasks(executor_with):  # behaviour 70
    seen = {}

    def handler(ctx):
        seen[ctx.payload] = {t.title: t.status for t in ctx.upstream.values()}
        if ctx.payload in ("a", "report"):
            raise RuntimeError("no")

    a, b, report, after_report, lone = named("a", "b", "report", "after", "lone")
    graph = TaskGraph()
    graph.add(a)
    graph.add(b, after=[a])
    graph.add(report, after=[a, b], finally_=True)
    graph.add(after_report, after=[report])
    graph.add(lone, after=[], finally_=True)
    graph.run(executor_with(handler))
    assert seen["report"] == {"a": S.FAILED, "b": S.BLOCKED}
    assert report.is_failed and after_report.is_blocked and lone.is_done
    assert graph.finally_tasks == [report, lone]


def test_optional_finally_failures(executor_with):  # behaviour 71
    a, note = named("a", "note")
    graph = TaskGraph()
    graph.add(a)
    graph.add(note, after=[a], finally_=True, required=False)
    graph.run(executor_with(scripted({"note"})))
    assert graph.failed == [note] == graph.optional_failed and note.id in graph.errors
    assert graph.ok and graph.required_failed == [] and graph.required_blocked == []
    required = TaskGraph()
    required.add(a)
    required.add(Task.bash("note"), after=[a], finally_=True)
    required.run(executor_with(scripted({"note"})))
    assert not required.ok


def test_views_are_fresh_lists_in_insertion_order(executor_with):  # behaviour 72
    tasks = named("f1", "ok", "f2", "opt")
    graph = TaskGraph()
    for task in tasks[:3]:
        graph.add(task)
    graph.add(tasks[3], finally_=True, required=False)
    graph.run(executor_with(scripted({"f1", "f2"})))
    assert graph.failed == [tasks[0], tasks[2]] and graph.succeeded == [tasks[1], tasks[3]]
    assert graph.done == graph.succeeded
    assert graph.optional_tasks == [tasks[3]] and graph.required_tasks == tasks[:3]
    for view in ("succeeded", "failed", "cancelled", "blocked", "finally_tasks"):
        getattr(graph, view).clear()
    assert graph.failed == [tasks[0], tasks[2]] and graph.finally_tasks == [tasks[3]]
    assert graph.cancelled == [] and graph.blocked == []


def test_reruns(executor_with, recorder):  # behaviour 73
    log: list[str] = []
    fail = {"b"}
    a, b, c, d = named("a", "b", "c", "d")
    graph = TaskGraph()
    graph.add(a)
    graph.add(b, after=[a])
    graph.add(c, after=[b])
    graph.add(d)
    d.cancel()
    ex = executor_with(scripted(fail, log))
    graph.run(ex)
    assert log == ["a", "b"] and c.is_blocked and d.is_cancelled
    graph.run(ex)  # b fails again: c stays BLOCKED without a new event
    assert log == ["a", "b", "b"] and len(recorder.of(E.BLOCKED, c)) == 1
    fail.clear()
    late = graph.add(Task.bash("late", title="late"), after=[c])
    graph.run(ex)
    assert log == ["a", "b", "b", "b", "c", "late"]  # a is DONE: not re-run
    assert recorder.of(E.STARTED, c)[-1].previous_status is S.BLOCKED
    assert late.is_done and d.is_cancelled and not graph.ok
    count = len(recorder.events)
    d_graph = TaskGraph()
    for task in (a, b, c, late):
        d_graph.add(task)
    d_graph.run(ex)
    assert len(recorder.events) == count  # an all-DONE graph emits nothing


def test_a_failed_carry_over_under_a_bad_parent_blocks_its_children(executor_with, recorder):
    # 73: upstream ttasks raises "scheduler made no progress" here; the children must end.
    gone, stuck, child, grandchild = named("gone", "stuck", "child", "grandchild")
    gone.cancel()
    stuck.transition_to(S.FAILED, error="earlier run")
    graph = TaskGraph()
    graph.add(gone)
    graph.add(stuck, after=[gone])
    graph.add(child, after=[stuck])
    graph.add(grandchild, after=[child])
    graph.run(executor_with(scripted()))
    assert stuck.is_failed and stuck.error == "earlier run" and recorder.types(stuck) == []
    assert child.is_blocked and child.blocked_by == stuck.id
    assert grandchild.is_blocked and grandchild.blocked_by == child.id and not graph.ok


def test_carry_overs_readied_last_are_still_retried(executor_with):
    # 73: upstream ttasks may finish the run before these become ready and never runs them.
    log: list[str] = []
    root, was_blocked, was_failed = named("root", "was_blocked", "was_failed")
    was_blocked.transition_to(S.BLOCKED)
    was_blocked._set_blocked_by(root.id)
    was_failed.transition_to(S.FAILED, error="old")
    graph = TaskGraph()
    graph.add(root, finally_=True, required=False)
    graph.add(was_blocked, after=[root])
    graph.add(was_failed, after=[root, was_blocked])
    graph.run(executor_with(scripted(log=log)), max_workers=1)
    assert log == ["root", "was_blocked", "was_failed"] and graph.ok


def test_blocked_in_this_run_never_submitted_and_done_finally_not_rerun(executor_with):  # 74
    log: list[str] = []
    a, b, fin = named("a", "b", "fin")
    graph = TaskGraph()
    graph.add(a)
    graph.add(b, after=[a])
    graph.add(fin, after=[b], finally_=True)
    ex = executor_with(scripted({"a"}, log))
    graph.run(ex)
    assert log == ["a", "fin"] and b.is_blocked and fin.is_done
    graph.run(ex)
    assert log == ["a", "fin", "a"]


def test_upstream_is_direct_deps_and_execute_overrides_are_used(recorder):  # behaviour 75
    seen: dict[str, list[str]] = {}
    executed: list[str] = []

    class Tracing(TaskExecutor):
        def execute(self, task, upstream=None, *, retry_policy=None):
            executed.append(task.title)
            if task.title == "broken":
                raise RuntimeError("before running")
            return super().execute(task, upstream, retry_policy=retry_policy)

    ex = Tracing.empty()
    assert isinstance(ex, Tracing)

    def handler(ctx):
        seen[ctx.title] = [t.title for t in ctx.upstream.values()]
        assert all(t.result is not None for t in ctx.upstream.values())

    ex.register(TaskType.BASH, handler)
    a, b, c, broken, child = named("a", "b", "c", "broken", "child")
    graph = TaskGraph()
    graph.add(a)
    graph.add(b, after=[a])
    graph.add(c, after=[b])
    graph.add(broken)
    graph.add(child, after=[broken])
    graph.run(ex)
    assert seen["c"] == ["b"] and sorted(executed) == ["a", "b", "broken", "c"]
    assert broken.is_pending and isinstance(graph.errors[broken.id], RuntimeError)
    assert child.is_blocked and child.blocked_by == broken.id


class FailingGraphs:
    def save(self, graph):
        raise OSError("disk full")


def test_graph_persistence(executor_with):  # behaviour 52
    store = InMemoryStore()
    order: list[str] = []

    class Graphs(type(store.graphs)):
        def save(self, graph):
            order.append("save")
            super().save(graph)

    store._graphs = Graphs()
    ex = executor_with(lambda ctx: order.append("run"), store=store)
    graph = TaskGraph()
    graph.add(Task.bash(""))
    graph.run(ex)
    assert order == ["save", "run", "save"] and store.graphs[graph.id] is graph
    cyclic = TaskGraph()
    loop = cyclic.add(Task.bash(""))
    cyclic.add(loop, after=[loop])
    with pytest.raises(ValueError):
        cyclic.run(ex)
    assert cyclic.id not in store.graphs


def test_graph_persistence_failure_never_raises(executor_with):  # behaviour 52 (-W error)
    store = InMemoryStore()
    store._graphs = FailingGraphs()
    ex = executor_with(lambda ctx: "ok", store=store)
    graph = TaskGraph()
    graph.add(Task.bash(""))
    graph.run(ex)
    assert graph.ok and [gid for gid, _ in ex.graph_persistence_errors] == [graph.id] * 2
    assert str(ex.graph_persistence_errors[0][1]) == "disk full"


def test_wide_dag_with_sqlite_store(executor, tmp_path):  # behaviour 59
    from webapp.store import SQLiteStore

    store = SQLiteStore(tmp_path / "wide.db")
    ex = TaskExecutor(store=store)
    root = Task.bash("echo root", title="root")
    graph = TaskGraph()
    graph.add(root)
    leaves = [graph.add(Task.bash(f"echo {i}", title=f"leaf{i}"), after=[root]) for i in range(8)]
    graph.run(ex, max_workers=4)
    assert graph.ok and ex.persistence_errors == []
    reader = SQLiteStore(tmp_path / "wide.db")
    for task in [root, *leaves]:
        loaded = reader.tasks[task.id]
        assert loaded.status is S.DONE and loaded.result.output == task.result.output


def test_cancelling_a_member_blocks_children_and_finally_still_runs(executor, wait_until):
    slow, child, fin = (Task.bash(p, title=p) for p in ("sleep 30", "echo child", "echo fin"))
    graph = TaskGraph()
    graph.add(slow)
    graph.add(child, after=[slow])
    graph.add(fin, after=[slow], finally_=True)
    runner = threading.Thread(target=graph.run, args=(executor,))
    runner.start()
    wait_until(lambda: executor.is_running(slow.id))
    executor.cancel(slow)
    runner.join(timeout=5)
    assert slow.is_cancelled and child.is_blocked and fin.is_done
    assert isinstance(graph.errors[slow.id], TaskCancelled)


def test_base_exception_in_a_member_is_recorded_not_lost(executor_with):  # bug 3, in graphs
    def handler(ctx):
        if ctx.payload == "exit":
            raise SystemExit(3)
        return "ok"

    stop, child, other = Task.bash("exit"), Task.bash("child"), Task.bash("other")
    graph = TaskGraph()
    graph.add(stop)
    graph.add(child, after=[stop])
    graph.add(other)
    graph.run(executor_with(handler))
    assert stop.is_failed and child.is_blocked and other.is_done
    assert isinstance(graph.errors[stop.id], SystemExit)


def test_ctrl_c_during_run_cancels_running_members_and_starts_nothing_more(executor):
    """An interrupt of the waiting caller stops the run: nothing RUNNING is left behind."""
    slow, child = Task.bash("sleep 30", title="slow"), Task.bash("echo child", title="child")
    graph = TaskGraph()
    graph.add(slow)
    graph.add(child, after=[slow])

    main = threading.main_thread().ident

    def interrupt_once_running() -> None:
        deadline = time.monotonic() + 20
        while not executor.is_running(slow.id) and time.monotonic() < deadline:
            time.sleep(0.005)
        signal.pthread_kill(main, signal.SIGINT)  # Ctrl-C, delivered to the main thread

    # Python turns SIGINT into KeyboardInterrupt only if the process did not start with it
    # ignored, as a command put in the background by a non-interactive shell does.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    trigger = threading.Thread(target=interrupt_once_running)
    trigger.start()
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            graph.run(executor)
    finally:
        trigger.join()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - start < 15  # not the 30 s of the sleep: it was stopped
    assert slow.is_cancelled and not executor.is_running(slow.id)
    assert child.status in (S.PENDING, S.BLOCKED) and child.result is None
