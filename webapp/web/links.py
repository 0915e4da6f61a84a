"""URLs built once: a task's pages and actions from one prefix, and ``url_for`` remembered.

A task page links to about ten of a task's URLs and the list polls; building each with
``url_for`` costs more than the rest of the fragment. ``tests/web/test_links.py`` checks every
one against ``url_for`` of its endpoint, so a changed route cannot drift from these.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request, url_for

URL_MEMO = "webapp.url_memo"


class UrlMemo:
    """``url_for`` that remembers what it built (the templates' ``url_for``).

    Every page asks for the same URLs on every request (its stylesheets and scripts, the
    navigation, its task's pages). A URL without host is a function of the endpoint, its
    values and the script root alone, as long as the app has no URL defaults and no host or
    subdomain matching; anything else (``_external``, ``_anchor``, relative endpoints,
    unhashable values) goes to ``url_for`` every time. Bounded: cleared when full.
    """

    def __init__(self, app: Flask, size: int = 2048) -> None:
        self.app = app
        self.size = size
        self.exact = not (app.url_map.host_matching or app.subdomain_matching)
        self._urls: dict[tuple, str] = {}

    def __call__(self, endpoint: str, **values) -> str:
        if not self.exact or endpoint[:1] == "." or self.app.url_default_functions:
            return url_for(endpoint, **values)
        key = (request.script_root, endpoint, *sorted(values.items()))
        try:
            return self._urls[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value (a list of query arguments)
            return url_for(endpoint, **values)
        if any(name[:1] == "_" for name in values):
            return url_for(endpoint, **values)
        url = url_for(endpoint, **values)
        if len(self._urls) >= self.size:
            self._urls.clear()
        self._urls[key] = url
        return url


def cached_url_for(endpoint: str, **values) -> str:
    """``url_for`` through the app's ``UrlMemo``."""
    return current_app.extensions[URL_MEMO](endpoint, **values)


def init_app(app: Flask) -> None:
    """Templates build their URLs through one ``UrlMemo``."""
    memo = app.extensions[URL_MEMO] = UrlMemo(app)
    app.jinja_env.globals["url_for"] = memo


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
    return TaskLinks(cached_url_for("tasks.show", project_id=task.project_id, task_id=task.task_id))
