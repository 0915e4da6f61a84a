"""Task events and the synchronous EventBus that delivers them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from webapp.engine.task import Task, TaskStatus


class TaskEventType(StrEnum):
    """What happened. ``DONE`` is an alias of ``SUCCEEDED`` (value "succeeded").

    ``executor.events`` carries the lifecycle types (STARTED, SUCCEEDED, FAILED, CANCELLED,
    BLOCKED, PERSISTENCE_FAILED); PROGRESS and OUTPUT go to ``executor.activity``.
    """

    STARTED = "started"
    PROGRESS = "progress"
    OUTPUT = "output"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"
    PERSISTENCE_FAILED = "persistence_failed"
    DONE = "succeeded"  # alias, matching TaskStatus.DONE


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """One event about one task, delivered on the thread that caused it."""

    type: TaskEventType
    """What happened."""
    task_id: str
    """The task's id."""
    task: Task
    """The live task object (its result is attached before a terminal event)."""
    timestamp: datetime
    """When the event was emitted (naive local time)."""
    previous_status: TaskStatus | None
    """The status before a lifecycle transition; None for PROGRESS, OUTPUT, PERSISTENCE_FAILED."""
    status: TaskStatus
    """The task's status when the event was emitted."""
    error: str | None = None
    """The error text of FAILED, CANCELLED and PERSISTENCE_FAILED events."""
    progress_percent: float | None = None
    """PROGRESS only: 0..100, if given."""
    progress_message: str | None = None
    """PROGRESS only: a short message, if given."""
    output_stream: str | None = None
    """OUTPUT only: "stdout" or "stderr"."""
    output_chunk: str | None = None
    """OUTPUT only: one line of output, with its newline if it had one."""


Subscriber = Callable[[TaskEvent], object]


@dataclass
class EventBus:
    """Calls every subscriber synchronously, in subscription order, on the emitting thread.

    A subscriber that raises an ``Exception`` is isolated: the error is recorded in
    ``errors`` and delivery goes on. A ``BaseException`` that is not an ``Exception``
    (KeyboardInterrupt, SystemExit) is recorded too, the remaining subscribers still get
    the event, and then the first such exception is re-raised: an interrupt is never lost.
    """

    _subscribers: tuple[Subscriber, ...] = field(default=(), init=False)
    _errors: list[BaseException] = field(default_factory=list, init=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns an idempotent function that removes it again."""
        if not callable(subscriber):
            raise TypeError("subscriber must be callable")
        with self._lock:
            self._subscribers = (*self._subscribers, subscriber)
        removed = False

        def unsubscribe() -> None:
            nonlocal removed
            with self._lock:
                if removed:
                    return
                removed = True
                subs = list(self._subscribers)
                if subscriber in subs:
                    subs.remove(subscriber)
                self._subscribers = tuple(subs)

        return unsubscribe

    @contextmanager
    def subscribed(self, subscriber: Subscriber) -> Iterator[Subscriber]:
        """Subscribe for the duration of a ``with`` block."""
        unsubscribe = self.subscribe(subscriber)
        try:
            yield subscriber
        finally:
            unsubscribe()

    @property
    def has_subscribers(self) -> bool:
        """False when emitting would deliver to nobody (lets callers skip building events)."""
        return bool(self._subscribers)

    @property
    def errors(self) -> list[BaseException]:
        """A copy of every exception a subscriber raised so far."""
        with self._lock:
            return list(self._errors)

    def emit(self, event: TaskEvent) -> None:
        """Deliver ``event`` to a snapshot of the current subscribers."""
        interrupt: BaseException | None = None
        for subscriber in self._subscribers:  # a tuple: a consistent snapshot
            try:
                subscriber(event)
            except Exception as exc:
                with self._lock:
                    self._errors.append(exc)
            except BaseException as exc:
                with self._lock:
                    self._errors.append(exc)
                if interrupt is None:
                    interrupt = exc
        if interrupt is not None:
            raise interrupt
