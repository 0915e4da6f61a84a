"""The ``webapp`` command: ``serve`` and ``worker``, plus the scripting verbs of each room."""

from __future__ import annotations

import click

from webapp.cli import project_admin, serve, tasks, users


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """A self-hosted dashboard for tasks and DAG workflows."""


main.add_command(serve.serve)
main.add_command(users.user)
main.add_command(tasks.project)
tasks.project.add_command(project_admin.project_edit)
tasks.project.add_command(project_admin.project_delete)
main.add_command(tasks.task)
main.add_command(tasks.archive)
main.add_command(tasks.worker)
