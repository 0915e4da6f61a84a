"""A task's URLs from one ``url_for``: its pages and actions share one prefix.

A task page links to about ten of them and the list polls; building each with ``url_for``
costs more than the rest of the fragment. ``tests/web/test_links.py`` checks every one against
``url_for`` of its endpoint, so a changed route cannot drift from these.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for


@dataclass(frozen=True)
class TaskLinks:
    page: str

    def _sub(self, suffix: str) -> str:
        return f"{self.page}/{suffix}"

    @property
    def status(self) -> str:
        return self._sub("status")

    @property
    def log(self) -> str:
        return self._sub("log")

    @property
    def download(self) -> str:
        return self._sub("log/download")

    @property
    def stop(self) -> str:
        return self._sub("stop")

    @property
    def retry(self) -> str:
        return self._sub("retry")

    @property
    def rename(self) -> str:
        return self._sub("rename")

    @property
    def name(self) -> str:
        return self._sub("name")

    @property
    def delete(self) -> str:
        return self._sub("delete")


ENDPOINTS = {
    "page": "tasks.show",
    "status": "tasks_live.status",
    "log": "tasks_live.log",
    "download": "tasks_live.download",
    "stop": "tasks_actions.stop",
    "retry": "tasks_actions.retry",
    "rename": "tasks_actions.rename",
    "name": "tasks_actions.name",
    "delete": "tasks_actions.delete",
}


def task_links(task) -> TaskLinks:
    """Links of a task (anything with ``project_id`` and ``task_id``)."""
    return TaskLinks(url_for("tasks.show", project_id=task.project_id, task_id=task.task_id))
