"""What a handler sees of its task (TaskContext) and how often a task is tried (RetryPolicy)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from webapp.engine.errors import TaskCancelled
from webapp.engine.task import TaskStatus

if TYPE_CHECKING:
    from webapp.engine.task import Task, TaskType

ProgressEmitter = Callable[[float | None, str | None], None]
OutputEmitter = Callable[[str, str], None]
#: Called with the grace period (seconds, or None for the handler's default) on cancel.
Canceller = Callable[[float | None], None]
CancellerSlot = Callable[[Canceller | None], None]


@dataclass(frozen=True, init=False, eq=False)
class TaskContext:
    """A read-only view of one task for its handler, plus the executor's callbacks."""

    _task: Task
    _upstream: Mapping[str, Task]
    _progress_emitter: ProgressEmitter | None
    _output_emitter: OutputEmitter | None
    _canceller_slot: CancellerSlot | None

    def __init__(
        self,
        task: Task,
        upstream: Mapping[str, Task] | None = None,
        *,
        progress_emitter: ProgressEmitter | None = None,
        output_emitter: OutputEmitter | None = None,
        canceller_slot: CancellerSlot | None = None,
    ) -> None:
        setter = object.__setattr__
        setter(self, "_task", task)
        setter(self, "_upstream", MappingProxyType(dict(upstream or {})))
        setter(self, "_progress_emitter", progress_emitter)
        setter(self, "_output_emitter", output_emitter)
        setter(self, "_canceller_slot", canceller_slot)

    @property
    def id(self) -> str:
        return self._task.id

    @property
    def title(self) -> str:
        return self._task.title

    @property
    def description(self) -> str:
        return self._task.description

    @property
    def payload(self) -> str:
        return self._task.payload

    @property
    def type(self) -> TaskType:
        return self._task.type

    @property
    def timeout(self) -> float | None:
        return self._task.timeout

    @property
    def status(self) -> TaskStatus:
        """The task's live status."""
        return self._task.status

    @property
    def cancelled(self) -> bool:
        return self._task.status is TaskStatus.CANCELLED

    @property
    def upstream(self) -> Mapping[str, Task]:
        """Direct dependencies by id (live tasks, results attached); read-only."""
        return self._upstream

    def raise_if_cancelled(self) -> None:
        """Raise TaskCancelled once the task has been cancelled."""
        if self._task.status is TaskStatus.CANCELLED:
            raise TaskCancelled(f"Task {self._task.id!r} was cancelled")

    def emit_progress(self, percent: float | None = None, message: str | None = None) -> None:
        """Report progress (0..100 and/or a message) as a PROGRESS event."""
        if percent is None and message is None:
            raise ValueError("percent or message is required")
        if percent is not None:
            if isinstance(percent, bool) or not isinstance(percent, int | float):
                raise TypeError("percent must be a number")
            if not math.isfinite(percent) or not 0 <= percent <= 100:
                raise ValueError("percent must be between 0 and 100")
            percent = float(percent)
        if message is not None and not isinstance(message, str):
            raise TypeError("message must be a str")
        self.raise_if_cancelled()
        if self._progress_emitter is None:
            raise RuntimeError("progress cannot be emitted without an executor")
        self._progress_emitter(percent, message)

    def emit_output(self, stream: str, chunk: str) -> None:
        """Report a chunk of output ("stdout" or "stderr") as an OUTPUT event."""
        if self._output_emitter is not None:
            self._output_emitter(stream, chunk)

    def set_canceller(self, canceller: Canceller | None) -> None:
        """Register how to stop this task's live work (None clears it).

        While one is registered, ``executor.is_running(id)`` is True and
        ``executor.cancel(task, grace=...)`` calls it.
        """
        if self._canceller_slot is not None:
            self._canceller_slot(canceller)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times execute() tries a task, and how long it waits between attempts."""

    max_attempts: int = 1
    backoff: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise TypeError("max_attempts must be an int")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if isinstance(self.backoff, bool) or not isinstance(self.backoff, int | float):
            raise TypeError("backoff must be a number")
        if not math.isfinite(self.backoff) or self.backoff < 0:
            raise ValueError("backoff must be a finite non-negative number")
        object.__setattr__(self, "backoff", float(self.backoff))
