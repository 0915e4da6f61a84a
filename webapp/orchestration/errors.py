"""Exceptions of the orchestration layer; each message tells the user what to do next.

Lookup failures subclass ``LookupError`` and bad input subclasses ``ValueError``, so callers
that only know the builtins still catch them; ``OrchestrationError`` catches them all.
"""

from __future__ import annotations


class OrchestrationError(Exception):
    """Base class of every orchestration error."""


class InvalidTaskId(OrchestrationError, ValueError):
    """A task ID or prefix that cannot be a task ID (bad characters, head letter, length)."""


class MissingTaskId(InvalidTaskId):
    """An empty task ID where one is required."""


class InvalidSlashForm(OrchestrationError, ValueError):
    """A ``project/task`` reference with an empty or unsafe part."""


class TaskNotFound(OrchestrationError, LookupError):
    """No live task matches the given ID or prefix."""


class AmbiguousTaskId(OrchestrationError, LookupError):
    """A prefix that matches several tasks; ``matches`` lists them, sorted."""

    def __init__(self, message: str, matches: list[str]) -> None:
        super().__init__(message)
        self.matches = matches


class TaskIdSpaceExhausted(OrchestrationError, RuntimeError):
    """No unused task ID was found within the retry budget."""


class InvalidTaskName(OrchestrationError, ValueError):
    """A task name (or name category) that cannot be used."""


class ProjectNotFound(OrchestrationError, LookupError):
    """The named project does not exist."""


class InvalidArchiveId(OrchestrationError, ValueError):
    """An empty archive reference where one is required."""


class ArchiveNotFound(OrchestrationError, LookupError):
    """No archived task matches the given prefix."""


class AmbiguousArchive(OrchestrationError, LookupError):
    """A prefix that matches several archived tasks; ``matches`` lists their folder names."""

    def __init__(self, message: str, matches: list[str]) -> None:
        super().__init__(message)
        self.matches = matches


class ArchiveIncomplete(OrchestrationError, OSError):
    """The snapshot was archived but copying the logs failed; ``archive_dir`` says where."""

    def __init__(self, message: str, archive_dir) -> None:
        super().__init__(message)
        self.archive_dir = archive_dir


class UnsafePath(OrchestrationError, ValueError):
    """An identifier that would escape its directory if used as a path segment."""


class WorkspaceError(OrchestrationError, RuntimeError):
    """A git operation on a task workspace failed or timed out."""


# -- lifecycle and projects (added by the lifecycle room) ------------------------------------
class InvalidProject(OrchestrationError, ValueError):
    """A project ID or project setting that cannot be used."""


class ProjectExists(OrchestrationError, ValueError):
    """A project with that ID already exists."""


class InvalidTaskRequest(OrchestrationError, ValueError):
    """A task type, payload, timeout, status filter or other task input that cannot be used."""


class TaskStateConflict(OrchestrationError, ValueError):
    """The operation does not fit the task's current status (e.g. retrying a running task)."""


class NotBound(OrchestrationError, RuntimeError):
    """No settings are bound: call ``orchestration.bind(settings)`` (or ``init_app``) first."""


class InvalidField(OrchestrationError, ValueError):
    """A field of a definition (a schedule, a channel) that cannot be used; ``field`` names
    it so a form can show the message beside it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
