"""The task model: Task, its types and statuses, the state machine and TaskResult."""

from __future__ import annotations

import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# One lock guards every status change, so a check-then-transition (for example "fail unless
# somebody cancelled meanwhile") is atomic against executor.cancel() from another thread.
TRANSITION_LOCK = threading.RLock()

#: Why a task ended: None for success, else one of these.
TERMINATION_REASONS = frozenset({"exit_code", "timeout", "cancelled", "handler"})


class TaskType(StrEnum):
    """What kind of work a task's payload is."""

    BASH = "bash"
    POWERSHELL = "powershell"
    PROMPT = "prompt"
    AGENT = "agent"

    @property
    def label(self) -> str:
        """How people call this type (form choices, the API's description)."""
        return _TYPE_LABELS[self]


_TYPE_LABELS = {
    TaskType.BASH: "Bash command",
    TaskType.POWERSHELL: "PowerShell script",
    TaskType.PROMPT: "LLM prompt",
    TaskType.AGENT: "Agent",
}
#: Every task type's value in the enum's order: the one list that forms, API and CLI offer.
TASK_TYPES: tuple[str, ...] = tuple(kind.value for kind in TaskType)


class TaskStatus(StrEnum):
    """Lifecycle states. ``SUCCEEDED`` is an alias of ``DONE`` (same member, value "done")."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"
    SUCCEEDED = "done"  # alias: TaskStatus.SUCCEEDED is TaskStatus.DONE

    @property
    def is_sink(self) -> bool:
        """No transition leaves this state (DONE, CANCELLED)."""
        return self in _SINKS

    @property
    def is_bad(self) -> bool:
        """A parent in this state blocks its children (FAILED, CANCELLED, BLOCKED)."""
        return self in _BAD

    @property
    def is_active(self) -> bool:
        """Not finished yet (PENDING, RUNNING)."""
        return self in _ACTIVE

    @property
    def is_terminal(self) -> bool:
        """Finished for now (DONE, FAILED, CANCELLED, BLOCKED)."""
        return self not in _ACTIVE


_SINKS = frozenset({TaskStatus.DONE, TaskStatus.CANCELLED})
_BAD = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.BLOCKED})
_ACTIVE = frozenset({TaskStatus.PENDING, TaskStatus.RUNNING})

ALLOWED_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset(
        {TaskStatus.RUNNING, TaskStatus.CANCELLED, TaskStatus.BLOCKED, TaskStatus.FAILED}
    ),
    TaskStatus.RUNNING: frozenset({TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED}),
    TaskStatus.FAILED: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED}),
    TaskStatus.BLOCKED: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELLED}),
    TaskStatus.DONE: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}

_READ_ONLY = {"result": "_set_result", "blocked_by": "_set_blocked_by"}


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class TaskResult:
    """What one execution of a task produced. ``raw`` is the handler's own return value."""

    task_id: str
    status: TaskStatus
    started_at: datetime
    finished_at: datetime
    duration: float
    output: str = ""
    error: str | None = None
    returncode: int | None = None
    raw: Any = None
    termination_reason: str | None = None

    @classmethod
    def from_raw(
        cls,
        task: Task,
        raw: Any,
        *,
        status: TaskStatus,
        started_at: datetime,
        finished_at: datetime,
        duration: float,
    ) -> TaskResult:
        """Normalise a handler's return value: CompletedProcess, str, or anything else."""
        common = dict(
            task_id=task.id,
            status=status,
            started_at=started_at,
            finished_at=finished_at,
            duration=duration,
            raw=raw,
        )
        if isinstance(raw, subprocess.CompletedProcess):
            return cls(
                **common,
                output=raw.stdout or "",
                error=raw.stderr or None,
                returncode=raw.returncode,
            )
        if isinstance(raw, str):
            return cls(**common, output=raw)
        return cls(**common)


@dataclass(eq=False)
class Task:
    """A unit of work. Status changes only through ``transition_to``/``cancel``/the executor.

    Once DONE a task is immutable: public attributes can no longer be assigned.
    """

    title: str
    payload: str
    type: TaskType
    description: str = ""
    error: str | None = None
    timeout: float | None = None
    _id: str = field(default_factory=_new_id)
    created_at: datetime = field(default_factory=datetime.now)
    _status: TaskStatus = field(default=TaskStatus.PENDING, init=False, repr=False)
    _result: TaskResult | None = field(default=None, init=False, repr=False)
    _blocked_by: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.type, TaskType):
            raise TypeError("type must be a TaskType")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be greater than 0")

    # -- factories -----------------------------------------------------------------------
    @classmethod
    def bash(
        cls, payload: str, *, title: str = "", description: str = "", timeout: float | None = None
    ) -> Task:
        """A BASH task: ``payload`` runs as ``bash -c payload``."""
        return cls(title, payload, TaskType.BASH, description=description, timeout=timeout)

    @classmethod
    def powershell(
        cls, payload: str, *, title: str = "", description: str = "", timeout: float | None = None
    ) -> Task:
        """A POWERSHELL task: ``payload`` runs through ``pwsh -Command``."""
        return cls(title, payload, TaskType.POWERSHELL, description=description, timeout=timeout)

    @classmethod
    def prompt(
        cls, payload: str, *, title: str = "", description: str = "", timeout: float | None = None
    ) -> Task:
        """A PROMPT task: ``payload`` is sent to a language model, its answer is the output."""
        return cls(title, payload, TaskType.PROMPT, description=description, timeout=timeout)

    @classmethod
    def agent(
        cls, payload: str, *, title: str = "", description: str = "", timeout: float | None = None
    ) -> Task:
        """An AGENT task: ``payload`` is an instruction for a tool-using agent."""
        return cls(title, payload, TaskType.AGENT, description=description, timeout=timeout)

    # -- attribute rules -----------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_id" and "_id" in self.__dict__:
            raise AttributeError("Task._id is immutable")
        if name in _READ_ONLY:
            raise AttributeError(f"Task.{name} is read-only; use {_READ_ONLY[name]}() to mutate")
        if not name.startswith("_") and self.__dict__.get("_status") is TaskStatus.DONE:
            raise AttributeError("DONE tasks are immutable")
        object.__setattr__(self, name, value)

    # -- read-only views -----------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._id

    @property
    def status(self) -> TaskStatus:
        return self._status

    @property
    def result(self) -> TaskResult | None:
        return self._result

    @property
    def blocked_by(self) -> str | None:
        """The id of the parent that blocked this task, while it is BLOCKED."""
        return self._blocked_by

    @property
    def is_pending(self) -> bool:
        return self._status is TaskStatus.PENDING

    @property
    def is_running(self) -> bool:
        return self._status is TaskStatus.RUNNING

    @property
    def is_done(self) -> bool:
        return self._status is TaskStatus.DONE

    is_succeeded = is_done  # release-name alias

    @property
    def is_failed(self) -> bool:
        return self._status is TaskStatus.FAILED

    @property
    def is_cancelled(self) -> bool:
        return self._status is TaskStatus.CANCELLED

    @property
    def is_blocked(self) -> bool:
        return self._status is TaskStatus.BLOCKED

    @property
    def is_terminal(self) -> bool:
        return self._status not in _ACTIVE

    # -- state machine -------------------------------------------------------------------
    def can_transition_to(self, status: TaskStatus) -> bool:
        if not isinstance(status, TaskStatus):
            raise TypeError("status must be a TaskStatus")
        return status in ALLOWED_TRANSITIONS[self._status]

    def transition_to(self, status: TaskStatus, error: str | None = None) -> None:
        """Move to ``status``; raises ValueError for a transition the state machine forbids.

        RUNNING and DONE clear ``error``; entering RUNNING also clears result and blocked_by.
        """
        if not isinstance(status, TaskStatus):
            raise TypeError("status must be a TaskStatus")
        with TRANSITION_LOCK:
            old = self._status
            if status not in ALLOWED_TRANSITIONS[old]:
                raise ValueError(f"Cannot transition task from '{old.value}' to '{status.value}'")
            if status is TaskStatus.RUNNING or status is TaskStatus.DONE:
                error = None
            if status is TaskStatus.RUNNING:
                object.__setattr__(self, "_result", None)
                object.__setattr__(self, "_blocked_by", None)
            object.__setattr__(self, "error", error)
            object.__setattr__(self, "_status", status)

    def cancel(self) -> None:
        """Mark CANCELLED, keeping ``error``. Idempotent; a no-op once DONE or CANCELLED."""
        with TRANSITION_LOCK:
            if not self._status.is_sink:
                self.transition_to(TaskStatus.CANCELLED, error=self.error)

    # -- executor-internal seams -----------------------------------------------------------
    def set_result(self, result: TaskResult | None) -> None:
        """Record an outcome decided outside an executor (a store loading a saved task, a
        server finding a run whose worker died). Changes no status and emits no event."""
        if result is not None and not isinstance(result, TaskResult):
            raise TypeError("result must be a TaskResult or None")
        object.__setattr__(self, "_result", result)

    _set_result = set_result  # the executor's seam (seed 002's name)

    def _set_blocked_by(self, task_id: str | None) -> None:
        object.__setattr__(self, "_blocked_by", task_id)

    def _restore_status(self, status: TaskStatus | str) -> None:
        """Store seam: put back a saved status as is (no state machine, no events)."""
        object.__setattr__(self, "_status", TaskStatus(status))

    # -- identity --------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Task):
            return NotImplemented
        return self._id == other._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return f"Task(id={self._id!r}, title={self.title!r}, status={self._status.value})"
