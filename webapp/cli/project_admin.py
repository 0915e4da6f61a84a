"""``webapp project edit|delete``: the admin verbs on projects, audited like the dashboard's."""

from __future__ import annotations

import click

from webapp import orchestration as orch
from webapp.cli import audit
from webapp.cli.tasks import ACTOR_OPTION, bound, parse_env_pairs
from webapp.cli.users import DATA_DIR_OPTION, actor
from webapp.orchestration.projects import changed_settings, describe_changes, project_row


@click.command("edit")
@click.argument("project_id")
@click.option("--name", help="Display name (empty: the project ID).")
@click.option("--grace", type=float, help="Stop grace (s).")
@click.option(
    "--max-concurrent", type=click.IntRange(0), help="Running tasks at once (0: no limit)."
)
@click.option("--categories", help="Name categories for generated task names (comma-separated).")
@click.option("--git-repo", help="Repository cloned into each task's workspace (empty: none).")
@click.option("--env", "env_pairs", multiple=True, metavar="NAME=VALUE", help="Set a variable.")
@click.option("--unset-env", multiple=True, metavar="NAME", help="Remove a variable.")
@DATA_DIR_OPTION
@ACTOR_OPTION
def project_edit(project_id, name, grace, max_concurrent, categories, git_repo, env_pairs,
                 unset_env, data_dir, acting_as):  # fmt: skip
    """Change a project's settings (only the options given; admins' verb)."""
    changes: dict = {}
    if name is not None:
        changes["name"] = name
    if grace is not None:
        changes["shutdown_grace"] = grace
    if max_concurrent is not None:
        changes["max_concurrent"] = max_concurrent or None
    if categories is not None:
        changes["name_categories"] = [c.strip() for c in categories.split(",") if c.strip()] or None
    if git_repo is not None:
        changes["git_repo"] = git_repo or None
    who = acting_as or actor()
    with bound(data_dir):
        before = orch.project_get(project_id)
        if env_pairs or unset_env:
            env = dict(project_row(project_id)["env"])
            env.update(parse_env_pairs(env_pairs))
            for key in unset_env:
                env.pop(key, None)
            changes["env"] = env
        if not changes:
            raise click.UsageError("Nothing to change: give at least one option (see --help)")
        after = orch.project_update(project_id, actor=who, **changes)
        detail = describe_changes(changed_settings(before, after))
        audit.record(who, "project.update", project_id, detail)
    click.echo(f"Project {project_id}: {detail}")


@click.command("delete")
@click.argument("project_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@DATA_DIR_OPTION
@ACTOR_OPTION
def project_delete(project_id, yes, data_dir, acting_as):
    """Delete a project after archiving every one of its tasks."""
    who = acting_as or actor()
    with bound(data_dir):
        plan = orch.project_delete_plan(project_id)
        if plan.blocked:
            raise click.ClickException(plan.blocked)
        question = f"Archive {plan.tasks} task(s) and delete project {project_id}?"
        if not yes and not click.confirm(question, default=False):
            raise click.ClickException("Nothing deleted")
        result = orch.project_delete(project_id, actor=who)
        detail = f"{result.archived} task(s) archived"
        if result.warnings:
            detail += "; warnings: " + "; ".join(result.warnings)
        audit.record(who, "project.delete", project_id, detail)
    for warning in result.warnings:
        click.echo(f"  Warning: {warning}", err=True)
    click.echo(f"Deleted project {project_id}; {result.archived} task(s) archived")
