"""API: model usage and the token/cost budgets and prices of projects and tasks."""

from __future__ import annotations

import math

from flask import abort

from webapp import orchestration
from webapp.orchestration import llm
from webapp.web.api import api
from webapp.web.api.inputs import Body
from webapp.web.api.schemas import (
    LLM_LIMITS_UPDATE,
    PROJECT_ID,
    TASK_ID,
    TASK_LLM_LIMITS_UPDATE,
    ref,
)
from webapp.web.auditing import record_audit

PROJECT = {"project": PROJECT_ID}
TASK = {**PROJECT, "task": TASK_ID}
FIELDS = ("budget_tokens", "budget_cost", "prices")


def _changes(body: Body) -> dict:
    changes = {}
    if body.has("budget_tokens"):
        changes["budget_tokens"] = body.integer("budget_tokens", minimum=1, maximum=10**12)
    if body.has("budget_cost"):
        value = body.number("budget_cost", minimum=0, maximum=1e9)
        if value is not None and value <= 0:
            abort(400, "field 'budget_cost' must be more than 0")
        changes["budget_cost"] = value
    if body.has("prices"):
        prices = body.data["prices"]
        if prices is not None and not isinstance(prices, dict):
            abort(400, "field 'prices' must map model names to {prompt, completion} prices")
        if prices and len(prices) > 500:
            abort(400, "field 'prices' must name at most 500 models")
        for row in (prices or {}).values():
            for value in row.values() if isinstance(row, dict) else ():
                if isinstance(value, float) and not math.isfinite(value):
                    abort(400, "field 'prices' must hold finite numbers")
        changes["prices"] = prices
    return changes


def _json(limits: dict, usage: dict) -> dict:
    return {**limits, "usage": usage}


@api.route(
    "/projects/<project>/llm-limits",
    role="viewer",
    summary="The project's token/cost budget (over all its runs), its model prices and its "
    "usage so far.",
    response=ref("LLMLimits"),
    path_params=PROJECT,
)
def get_project_limits(project: str):
    orchestration.project_get(project)
    return _json(llm.get_limits(project), llm.project_usage(project))


@api.route(
    "/projects/<project>/llm-limits",
    "PATCH",
    role="admin",
    summary="Change the project's budget or model prices (null clears one).",
    body=LLM_LIMITS_UPDATE,
    response=ref("LLMLimits"),
    path_params=PROJECT,
)
def update_project_limits(project: str):
    orchestration.project_get(project)
    changes = _changes(Body(FIELDS))
    limits = llm.set_limits(project, **changes)
    record_audit("project.llm_limits", project, ", ".join(sorted(changes)) or "no change")
    return _json(limits, llm.project_usage(project))


@api.route(
    "/projects/<project>/tasks/<task>/llm-limits",
    role="viewer",
    summary="A task's own token/cost budget (over all its runs) and its usage so far.",
    response=ref("LLMLimits"),
    path_params=TASK,
)
def get_task_limits(project: str, task: str):
    task_id = orchestration.resolve_task_id(project, task)
    return _json(llm.get_limits(project, task_id), llm.task_usage(project, task_id))


@api.route(
    "/projects/<project>/tasks/<task>/llm-limits",
    "PATCH",
    role="operator",
    summary="Change a task's own budget (null clears it); prices are set per project.",
    body=TASK_LLM_LIMITS_UPDATE,
    response=ref("LLMLimits"),
    path_params=TASK,
)
def update_task_limits(project: str, task: str):
    task_id = orchestration.resolve_task_id(project, task)
    changes = _changes(Body(FIELDS))
    if changes.get("prices") is not None:
        abort(400, "prices are set per project (PATCH /projects/<project>/llm-limits)")
    changes.pop("prices", None)
    limits = llm.set_limits(project, task_id, **changes)
    record_audit("task.llm_limits", f"{project}/{task_id}",
                 ", ".join(sorted(changes)) or "no change")  # fmt: skip
    return _json(limits, llm.task_usage(project, task_id))
