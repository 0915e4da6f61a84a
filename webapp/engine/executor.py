"""TaskExecutor: runs tasks through handlers, owns every lifecycle transition and event."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any

from webapp.engine.context import Canceller, RetryPolicy, TaskContext
from webapp.engine.errors import TaskCancelled, TaskExecutionError, TaskTimeoutError
from webapp.engine.events import EventBus, TaskEvent, TaskEventType
from webapp.engine.task import TRANSITION_LOCK, Task, TaskResult, TaskStatus, TaskType

Handler = Callable[[TaskContext], Any]

_RUNNING = TaskStatus.RUNNING
_DONE = TaskStatus.DONE
_FAILED = TaskStatus.FAILED
_CANCELLED = TaskStatus.CANCELLED
_EVENT_FOR = {
    _DONE: TaskEventType.SUCCEEDED,
    _FAILED: TaskEventType.FAILED,
    _CANCELLED: TaskEventType.CANCELLED,
}
_SINGLE_ATTEMPT = RetryPolicy()
_pool_thread = threading.local()


def _cancelled_message(task: Task) -> str:
    return f"Task {task.id!r} was cancelled"


class TaskExecutor:
    """Dispatches tasks to handlers by TaskType and drives the state machine.

    With a ``store``, every lifecycle transition is saved (``store.tasks.save``) before its
    event is emitted; a failing save is recorded in ``persistence_errors`` and announced as a
    PERSISTENCE_FAILED event, and never changes the task's outcome.
    """

    def __init__(
        self, store: Any = None, *, max_workers: int | None = None, _register_defaults: bool = True
    ) -> None:
        self.events = EventBus()
        #: What a running task reports (PROGRESS and OUTPUT events), kept off ``events`` so
        #: that ``events`` carries exactly seed 002's lifecycle events.
        self.activity = EventBus()
        self.store = store
        self.persistence_errors: list[tuple[str, BaseException]] = []
        self.graph_persistence_errors: list[tuple[str, BaseException]] = []
        self._handlers: dict[TaskType, Handler] = {}
        self._cancellers: dict[str, Canceller] = {}
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._closed = False
        if _register_defaults:
            from webapp.engine.handlers import default_handlers

            for task_type, handler in default_handlers().items():
                self.register(task_type, handler)

    @classmethod
    def empty(cls, store: Any = None, **kwargs: Any) -> TaskExecutor:
        """An executor with no handlers registered."""
        return cls(store, _register_defaults=False, **kwargs)

    # -- handlers ----------------------------------------------------------------------------
    def register(self, task_type: TaskType, handler: Handler) -> None:
        """Use ``handler(context)`` for tasks of ``task_type`` (replacing any earlier one)."""
        if not isinstance(task_type, TaskType):
            raise TypeError("task_type must be a TaskType")
        if not callable(handler):
            raise TypeError("handler must be callable")
        self._handlers[task_type] = handler

    def is_registered(self, task_type: TaskType) -> bool:
        if not isinstance(task_type, TaskType):
            raise TypeError("task_type must be a TaskType")
        return task_type in self._handlers

    def is_running(self, task_id: str | Task) -> bool:
        """True while the task has live work (a subprocess) that cancel() can stop."""
        return (task_id.id if isinstance(task_id, Task) else task_id) in self._cancellers

    # -- execution ---------------------------------------------------------------------------
    def execute(
        self,
        task: Task,
        upstream: Mapping[str, Task] | None = None,
        *,
        retry_policy: RetryPolicy | None = None,
    ) -> TaskResult:
        """Run ``task`` now on this thread; returns its result or raises what ended it."""
        policy = self._check(task, retry_policy)
        if policy.max_attempts == 1 or task.type not in self._handlers:
            return self._execute_once(task, upstream)  # a missing handler is never retried
        for attempt in range(1, policy.max_attempts + 1):
            try:
                return self._execute_once(task, upstream)
            except TaskCancelled:
                raise
            except Exception as exc:
                if task.status is _CANCELLED:
                    raise TaskCancelled(_cancelled_message(task)) from None
                if attempt >= policy.max_attempts or task.status is not _FAILED:
                    raise
                # A provider that said when to come back (HTTP 429 Retry-After) is obeyed.
                wait = max(policy.backoff, getattr(exc, "retry_after", None) or 0.0)
            self._back_off(task, wait)
            if task.status is _CANCELLED:
                raise TaskCancelled(_cancelled_message(task))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _check(self, task: object, retry_policy: object) -> RetryPolicy:
        if not isinstance(task, Task):
            raise TypeError("task must be a Task")
        if retry_policy is None:
            return _SINGLE_ATTEMPT
        if not isinstance(retry_policy, RetryPolicy):
            raise TypeError("retry_policy must be a RetryPolicy")
        return retry_policy

    @staticmethod
    def _back_off(task: Task, backoff: float) -> None:
        if backoff <= 0.5:
            if backoff > 0:
                time.sleep(backoff)
            return
        deadline = time.monotonic() + backoff
        while task.status is not _CANCELLED:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 0.05))

    def _execute_once(self, task: Task, upstream: Mapping[str, Task] | None) -> TaskResult:
        handler = self._handlers.get(task.type)
        with TRANSITION_LOCK:
            previous = task.status
            if not task.can_transition_to(_RUNNING):
                raise ValueError(f"Cannot execute task with status '{previous.value}'")
            task.transition_to(_RUNNING)
            if handler is None:
                # FAILED->FAILED and BLOCKED->FAILED are illegal: pass through RUNNING silently.
                message = f"No handler registered for task type '{task.type.value}'"
                now = datetime.now()
                task._set_result(
                    TaskResult(task.id, _FAILED, now, now, 0.0, error=message,
                               termination_reason="handler")
                )  # fmt: skip
                task.transition_to(_FAILED, error=message)
        if handler is None:
            self._announce(task, TaskEventType.FAILED, previous, message)
            raise ValueError(message)

        started_at = datetime.now()
        start = time.monotonic()
        try:
            self._announce(task, TaskEventType.STARTED, previous)
            started_at = datetime.now()
            start = time.monotonic()
            raw = handler(self._context(task, upstream))
        except TaskCancelled as exc:
            self._finish(task, _CANCELLED, started_at, start, exc, _describe(exc))
            raise
        except Exception as exc:
            message = _describe(exc)  # before the lock: __str__ may run arbitrary code
            if self._finish(task, _FAILED, started_at, start, exc, message) is _CANCELLED:
                raise TaskCancelled(_cancelled_message(task)) from exc
            raise
        except BaseException as exc:
            # Never leave a task RUNNING: KeyboardInterrupt cancels it, others fail it.
            detail = _describe(exc)
            message = f"interrupted by {type(exc).__name__}" + (f": {detail}" if detail else "")
            status = _CANCELLED if isinstance(exc, KeyboardInterrupt) else _FAILED
            self._finish(task, status, started_at, start, exc, message)
            raise
        if self._finish(task, _DONE, started_at, start, raw, None) is _CANCELLED:
            raise TaskCancelled(_cancelled_message(task))
        return task.result  # type: ignore[return-value]

    def _context(self, task: Task, upstream: Mapping[str, Task] | None) -> TaskContext:
        return TaskContext(
            task,
            upstream,
            progress_emitter=partial(self._emit_progress, task),
            output_emitter=partial(self._emit_output, task),
            canceller_slot=partial(self._set_canceller, task.id),
        )

    def _finish(
        self,
        task: Task,
        proposed: TaskStatus,
        started_at: datetime,
        start: float,
        outcome: Any,
        message: str | None,
    ) -> TaskStatus:
        """Attach the result, transition, persist, emit; atomically against cancel()."""
        finished_at = datetime.now()
        duration = time.monotonic() - start
        times = dict(started_at=started_at, finished_at=finished_at, duration=duration)
        with TRANSITION_LOCK:
            status = _CANCELLED if task.status is _CANCELLED else proposed
            if status is _DONE:
                result = TaskResult.from_raw(task, outcome, status=_DONE, **times)
            elif status is _FAILED:
                result = _failed_result(task, outcome, message, times)
            else:
                if message is None:  # the handler returned after an external cancel
                    message = _cancelled_message(task)
                result = _cancelled_result(task, outcome, message, times)
            task._set_result(result)
            if task.status is not status:
                task.transition_to(status, error=message)
        self._announce(task, _EVENT_FOR[status], _RUNNING, message)
        return status

    # -- cancellation and blocking -------------------------------------------------------------
    def cancel(self, task: Task, *, grace: float | None = None) -> None:
        """Cancel ``task``; stop its live subprocess (SIGTERM, SIGKILL after ``grace`` s).

        ``grace=None`` uses the handler's own grace period. A no-op on DONE tasks. A RUNNING
        task's CANCELLED event comes from the execute() that runs it.
        """
        if not isinstance(task, Task):
            raise TypeError("task must be a Task")
        with TRANSITION_LOCK:
            previous = task.status
            if previous is _DONE:
                return
            announce = previous is not _RUNNING and previous is not _CANCELLED
            task.cancel()
            if announce:
                now = datetime.now()
                task._set_result(
                    TaskResult(task.id, _CANCELLED, now, now, 0.0, error="cancelled",
                               termination_reason="cancelled")
                )  # fmt: skip
        canceller = self._cancellers.get(task.id)
        if canceller is not None:
            canceller(grace)
        if announce:
            self._announce(task, TaskEventType.CANCELLED, previous, "cancelled")

    def mark_blocked(self, task: Task, parent_id: str) -> None:
        """Mark ``task`` BLOCKED by ``parent_id`` (raises ValueError if it cannot be)."""
        with TRANSITION_LOCK:
            previous = task.status
            task.transition_to(TaskStatus.BLOCKED)
            task._set_blocked_by(parent_id)
        self._announce(task, TaskEventType.BLOCKED, previous)

    def _set_canceller(self, task_id: str, canceller: Canceller | None) -> None:
        if canceller is None:
            self._cancellers.pop(task_id, None)
        else:
            self._cancellers[task_id] = canceller

    # -- persistence and events ------------------------------------------------------------------
    def _announce(
        self,
        task: Task,
        event_type: TaskEventType,
        previous: TaskStatus | None,
        error: str | None = None,
    ) -> None:
        """Persist the task (if there is a store), then emit a lifecycle event."""
        if self.store is not None:
            self._persist(task)
        if self.events.has_subscribers:
            self.events.emit(
                TaskEvent(event_type, task.id, task, datetime.now(), previous, task.status, error)
            )

    def _persist(self, task: Task) -> None:
        try:
            self.store.tasks.save(task)
        except Exception as exc:
            self.persistence_errors.append((task.id, exc))
            if self.events.has_subscribers:
                self.events.emit(
                    TaskEvent(TaskEventType.PERSISTENCE_FAILED, task.id, task, datetime.now(),
                              None, task.status, str(exc))
                )  # fmt: skip

    def _emit_progress(self, task: Task, percent: float | None, message: str | None) -> None:
        if self.activity.has_subscribers:
            self.activity.emit(
                TaskEvent(TaskEventType.PROGRESS, task.id, task, datetime.now(), None,
                          task.status, progress_percent=percent, progress_message=message)
            )  # fmt: skip

    def _emit_output(self, task: Task, stream: str, chunk: str) -> None:
        if self.activity.has_subscribers:
            self.activity.emit(
                TaskEvent(TaskEventType.OUTPUT, task.id, task, datetime.now(), None,
                          task.status, output_stream=stream, output_chunk=chunk)
            )  # fmt: skip

    # -- asynchronous submission -------------------------------------------------------------
    def submit(
        self,
        task: Task,
        upstream: Mapping[str, Task] | None = None,
        *,
        retry_policy: RetryPolicy | None = None,
    ) -> Future[TaskResult]:
        """Run ``task`` on the executor's thread pool; the Future resolves to its result."""
        policy = self._check(task, retry_policy)
        upstream = dict(upstream or {})
        with self._pool_lock:
            if self._closed:
                raise RuntimeError("executor is shut down")
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="engine")
            future = self._pool.submit(self._execute_submitted, task, upstream, policy)
        future.add_done_callback(partial(self._on_future_done, task))
        return future

    def _execute_submitted(
        self, task: Task, upstream: dict[str, Task], policy: RetryPolicy
    ) -> TaskResult:
        _pool_thread.executor = self
        if task.status is _CANCELLED:
            raise TaskCancelled(_cancelled_message(task))
        return self.execute(task, upstream, retry_policy=policy)

    def _on_future_done(self, task: Task, future: Future[TaskResult]) -> None:
        if future.cancelled():
            self.cancel(task)

    @property
    def is_shutdown(self) -> bool:
        return self._closed

    def shutdown(self) -> None:
        """Refuse new submissions and wait for running and queued ones. Idempotent."""
        with self._pool_lock:
            self._closed = True
            pool = self._pool
        if pool is None:
            return
        if getattr(_pool_thread, "executor", None) is not self:
            pool.shutdown(wait=True)
            return
        # Called from one of our own workers: waiting for the whole pool would wait for this
        # very thread. Wait for the other workers instead (they drain the queue, then exit).
        pool.shutdown(wait=False)
        current = threading.current_thread()
        for thread in list(getattr(pool, "_threads", ())):  # CPython's set of worker threads
            if thread is not current:
                thread.join()

    close = shutdown

    def __enter__(self) -> TaskExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _describe(exc: BaseException) -> str:
    """``str(exc)``, even when the exception's ``__str__`` itself fails."""
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__name__} with an unprintable message>"


def _failed_result(task: Task, exc: Any, message: str | None, times: dict) -> TaskResult:
    completed = getattr(exc, "completed", None)
    if isinstance(exc, TaskExecutionError | TaskTimeoutError) and completed is not None:
        timed_out = isinstance(exc, TaskTimeoutError)
        return TaskResult(
            task.id,
            _FAILED,
            **times,
            output=completed.stdout or "",
            error=message if timed_out else (completed.stderr or message),
            returncode=completed.returncode,
            raw=completed,
            termination_reason="timeout" if timed_out else "exit_code",
        )
    reason = "timeout" if isinstance(exc, TaskTimeoutError) else "handler"
    if isinstance(exc, TaskExecutionError):
        reason = "exit_code"
    return TaskResult(task.id, _FAILED, **times, error=message, termination_reason=reason)


def _cancelled_result(task: Task, exc: Any, message: str, times: dict) -> TaskResult:
    completed = getattr(exc, "completed", None)
    if completed is None:
        return TaskResult(
            task.id, _CANCELLED, **times, error=message, termination_reason="cancelled"
        )
    return TaskResult(
        task.id,
        _CANCELLED,
        **times,
        output=completed.stdout or "",
        error=message,
        returncode=completed.returncode,
        raw=completed,
        termination_reason="cancelled",
    )
