"""``webapp workflow save|run|list|show|rerun``: saved workflows from a shell.

``save`` reads a JSON or YAML file (``-`` for standard input); naming an existing workflow
saves a new version. A workflow is named by its ID or its name.
"""

from __future__ import annotations

import click

from webapp.cli.tasks import ACTOR_OPTION, bound
from webapp.cli.users import DATA_DIR_OPTION, actor
from webapp.orchestration import graphs, workflows


def _find(project_id: str, ref: str):
    for workflow in workflows.workflow_list(project_id, limit=10_000):
        if ref in (workflow.workflow_id, workflow.name) or workflow.workflow_id.startswith(ref):
            return workflow
    raise click.ClickException(f"No workflow {ref!r} in project {project_id}")


def _run_line(run) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in run.counts.items())
    took = ""
    if run.started_at and run.finished_at:
        took = f" {(run.finished_at - run.started_at).total_seconds():.1f}s"
    return (f"{run.graph_id}  v{run.workflow_version}  {run.status:<9}{took}  "
            f"by {run.created_by}  ({counts})")  # fmt: skip


@click.group("workflow")
def workflow() -> None:
    """Save, run and inspect saved workflows."""


@workflow.command("save")
@click.argument("project_id")
@click.argument("source", type=click.File("r"))
@click.option("--name", help="The workflow's name (default: the definition's title).")
@click.option("--workflow", "ref", help="Save as a new version of this workflow.")
@DATA_DIR_OPTION
@ACTOR_OPTION
def save(project_id, source, name, ref, data_dir, acting_as):
    """Save a definition (JSON or YAML file, - for stdin) as a workflow or a new version."""
    from webapp.web.graph_definition import DefinitionInvalid, check_definition, parse_text

    text = source.read()
    with bound(data_dir):
        try:
            definition = check_definition(parse_text(text))
        except DefinitionInvalid as error:
            lines = "\n".join(f"  {problem}" for problem in error.problems)
            raise click.ClickException(f"The definition has problems:\n{lines}") from None
        existing = _find(project_id, ref).workflow_id if ref else None
        saved = workflows.workflow_save(project_id, definition, workflow_id=existing, name=name,
                                        actor=acting_as or actor())  # fmt: skip
        click.echo(f"Saved workflow {saved.workflow_id} ({saved.name}) version "
                   f"{saved.latest_version}")  # fmt: skip


@workflow.command("run")
@click.argument("project_id")
@click.argument("ref")
@click.option("--version", type=int, help="Run this version (default: the latest).")
@DATA_DIR_OPTION
@ACTOR_OPTION
def run(project_id, ref, version, data_dir, acting_as):
    """Start a new run of a saved workflow."""
    with bound(data_dir):
        chosen = _find(project_id, ref)
        graph = workflows.workflow_run(project_id, chosen.workflow_id, version=version,
                                       actor=acting_as or actor())  # fmt: skip
        click.echo(f"Started run {graph.graph_id} of {chosen.name} "
                   f"version {graph.workflow_version}")  # fmt: skip


@workflow.command("list")
@click.argument("project_id")
@DATA_DIR_OPTION
def list_(project_id, data_dir):
    """A project's saved workflows."""
    with bound(data_dir):
        for w in workflows.workflow_list(project_id, limit=10_000):
            click.echo(f"{w.workflow_id}  v{w.latest_version}  {w.name}")


@workflow.command("show")
@click.argument("project_id")
@click.argument("ref")
@DATA_DIR_OPTION
def show(project_id, ref, data_dir):
    """A workflow's versions, runs and latest definition (YAML)."""
    from webapp.web.graph_definition import to_yaml

    with bound(data_dir):
        chosen = workflows.workflow_get(project_id, _find(project_id, ref).workflow_id)
        click.echo(f"Workflow {chosen.workflow_id} ({chosen.name}), version "
                   f"{chosen.latest_version}")  # fmt: skip
        click.echo("Runs:")
        for graph in workflows.workflow_runs(project_id, chosen.workflow_id):
            click.echo(f"  {_run_line(graph)}")
        click.echo("Definition:")
        click.echo(to_yaml(chosen.definition), nl=False)


@workflow.command("rerun")
@click.argument("project_id")
@click.argument("graph_id")
@click.option("--from", "task", help="A member's task ID or key; default: retry the failed.")
@DATA_DIR_OPTION
@ACTOR_OPTION
def rerun(project_id, graph_id, task, data_dir, acting_as):
    """Rerun a finished run from a member (it and what runs after it), or its failed tasks."""
    with bound(data_dir):
        who = acting_as or actor()
        if task is None:
            graph = graphs.graph_retry(project_id, graph_id, actor=who)
            click.echo(f"Queued run {graph.graph_id} again: its failed tasks rerun")
            return
        task = workflows.member_keys(project_id, graph_id).get(task, task)
        graph = workflows.graph_rerun_from(project_id, graph_id, task, actor=who)
        click.echo(f"Rerunning from {task}: run {graph.graph_id}")
