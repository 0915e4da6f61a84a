"""Projects: IDs, settings and their validation, secret masking, counts."""

from __future__ import annotations

import pytest

from webapp import orchestration as orch
from webapp.orchestration.projects import MASK, project_row


def test_create_get_and_list_with_defaults(settings):
    created = orch.project_create("backend", actor="alice")
    assert (created.id, created.name, created.shutdown_grace) == ("backend", "backend", 10.0)
    assert created.max_concurrent is None and created.git_repo is None and created.env == {}
    assert created.created_by == "alice" and created.total == 0
    orch.project_create("alpha", name="Alpha team", max_concurrent=2)
    assert [p.id for p in orch.project_list()] == ["alpha", "backend"]
    assert orch.project_get("alpha").name == "Alpha team"


def test_duplicate_and_missing_projects(settings):
    orch.project_create("demo")
    with pytest.raises(orch.errors.ProjectExists, match="already exists"):
        orch.project_create("demo")
    with pytest.raises(orch.errors.ProjectNotFound, match="'other'"):
        orch.project_get("other")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"project_id": "../etc"}, "Invalid project ID"),
        ({"project_id": "Big"}, "Invalid project ID"),
        ({"project_id": ""}, "Invalid project ID"),
        ({"shutdown_grace": -1}, "shutdown_grace"),
        ({"shutdown_grace": "ten"}, "shutdown_grace"),
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"env": {"1BAD": "x"}}, "environment variable name"),
        ({"env": {"OK": 5}}, "must be text"),
        ({"name_categories": ["no-such-category"]}, "Unknown name category"),
        ({"git_repo": "--upload-pack=evil"}, "Invalid git repository"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(settings, kwargs, message):
    project_id = kwargs.pop("project_id", "demo")
    with pytest.raises(orch.errors.InvalidProject, match=message):
        orch.project_create(project_id, **kwargs)
    assert orch.project_list() == []


def test_secret_env_values_are_masked_but_kept(settings):
    project = orch.project_create("demo", env={"API_TOKEN": "s3cret", "REGION": "eu"})
    assert project.env == {"API_TOKEN": MASK, "REGION": "eu"}
    updated = orch.project_update("demo", env={"API_TOKEN": MASK, "REGION": "us"})
    assert updated.env == {"API_TOKEN": MASK, "REGION": "us"}
    assert project_row("demo")["env"] == {"API_TOKEN": "s3cret", "REGION": "us"}


def test_update_changes_settings_and_bumps_the_version(settings):
    project = orch.project_create("demo")
    updated = orch.project_update(
        "demo", shutdown_grace=2.5, max_concurrent=3, git_repo="/srv/repo.git",
        name_categories="animals", name="Demo",
    )  # fmt: skip
    assert (updated.shutdown_grace, updated.max_concurrent, updated.git_repo) == (
        2.5,
        3,
        "/srv/repo.git",
    )
    assert updated.name_categories == ["animals"] and updated.name == "Demo"
    assert updated.version > project.version
    with pytest.raises(orch.errors.InvalidProject, match="Unknown project setting"):
        orch.project_update("demo", colour="red")


def test_counts_follow_the_tasks(settings):
    orch.project_create("demo")
    orch.project_create("empty")
    first = orch.task_new("demo", payload="true")
    orch.task_new("demo", payload="true")
    orch.task_stop("demo", first.task_id)
    counts = {p.id: p.counts for p in orch.project_list()}
    assert counts["demo"]["queued"] == 1 and counts["demo"]["cancelled"] == 1
    assert sum(counts["empty"].values()) == 0
    assert set(counts["empty"]) == set(orch.UI_STATUSES)
