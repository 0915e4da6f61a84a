"""The audit log as people read it: actions in words, targets as links.

Entries store a dotted action (``task.stop``) and a textual target (``demo/k3v8h``); this
module turns them into "stopped task" and a link to the task, without a query per row (a
link to something since deleted leads to a page that says so).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for

LABELS = {
    "login": "signed in",
    "login.failed": "failed to sign in",
    "login.throttled": "sign-in slowed down",
    "logout": "signed out",
    "user.create": "created user",
    "user.role": "changed role of user",
    "user.password": "changed password of user",
    "user.disable": "disabled user",
    "user.enable": "enabled user",
    "token.create": "created API token of",
    "token.revoke": "revoked API token of",
    "project.create": "created project",
    "project.update": "changed settings of project",
    "project.delete": "deleted project",
    "task.create": "created task",
    "task.rename": "renamed task",
    "task.stop": "stopped task",
    "task.retry": "retried task",
    "task.delete": "deleted task",
    "task.lost": "lost task (its worker died)",
    "graph.create": "created workflow",
    "graph.run": "ran workflow again",
    "graph.cancel": "cancelled workflow",
    "graph.retry": "retried workflow",
    "graph.requeue": "requeued workflow (its worker died)",
}
NOUNS = {"tasks": "task", "projects": "project", "graphs": "workflow", "admin": "user"}


def label(action: str) -> str:
    """Words for an action; an unknown one ("graph.pause") reads "graph: pause"."""
    if action in LABELS:
        return LABELS[action]
    noun, _, verb = action.partition(".")
    return f"{noun}: {verb.replace('_', ' ')}" if verb else action.replace("_", " ")


def fallback_action(endpoint: str) -> str:
    """A dotted action for a change no view recorded, from its endpoint (never the endpoint:
    ``tasks_actions.bulk`` becomes ``task.bulk``)."""
    blueprint, _, view = endpoint.rpartition(".")
    if not blueprint:
        return view
    room = blueprint.split("_")[0]
    return f"{NOUNS.get(room, room.rstrip('s'))}.{view}"


@dataclass(frozen=True)
class Target:
    text: str
    url: str | None


def _split(target: str) -> tuple[str, str]:
    project_id, _, item = target.partition("/")
    return project_id, item


def target(action: str, text: str) -> Target:
    """The entry's target with a link to it, where there is one to follow."""
    noun = action.partition(".")[0]
    url = None
    if not text:
        return Target(text, None)
    if noun == "task":
        project_id, task_id = _split(text)
        if project_id and task_id:
            url = (
                url_for("archive.index", project_id=project_id, q=task_id)
                if action == "task.delete"
                else url_for("tasks.show", project_id=project_id, task_id=task_id)
            )
    elif noun == "graph":
        project_id, graph_id = _split(text)
        if project_id and graph_id:
            url = url_for("graphs.show", project_id=project_id, graph_id=graph_id)
    elif noun == "project":
        endpoint = "archive.index" if action == "project.delete" else "projects.show"
        url = url_for(endpoint, project_id=text)
    elif noun in ("user", "login"):
        url = url_for("admin.users") + f"#user-{text}"
    elif noun == "token":
        url = url_for("admin.all_tokens")
    return Target(text, url)


def filter_url(filters: dict[str, str], **changes: object) -> str:
    """The audit page with ``filters`` narrowed by ``changes`` (empty ones left out)."""
    wanted = {**filters, **changes}
    return url_for("admin.audit", **{key: value for key, value in wanted.items() if value})
