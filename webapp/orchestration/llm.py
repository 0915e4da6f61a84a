"""Prompt runs' usage, cost and budgets: what the worker records and the pages show.

Prices come from the installation's LLM_PRICES, overridden per model by a project's own
table. Budgets exist per project (spanning all its runs) and per task (spanning its runs);
each is a token count and/or a cost in USD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from webapp.engine.handlers.chat import Budget, Usage
from webapp.orchestration import context
from webapp.orchestration.errors import InvalidTaskRequest
from webapp.orchestration.projects import check_project_id
from webapp.orchestration.usage import check_prices, cost_of, price_of
from webapp.store import usage as usage_rows

PROJECT_LIMIT = usage_rows.PROJECT


@dataclass(frozen=True)
class RunUsage:
    """What one prompt run used; ``cost`` is None when its model has no price."""

    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    first_token_s: float | None
    latency_s: float | None
    cost: float | None
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


def _prices(project_id: str) -> tuple[Any, Any]:
    settings = context.current()
    own = usage_rows.get_limits(settings.store.db, project_id)["prices"]
    return settings.llm_prices, own


def record_run_usage(
    project_id: str, task_id: str, run_no: int, run_id: str, usage: Usage
) -> RunUsage:
    """Store one run's usage with its cost (at the prices in force now)."""
    global_prices, own = _prices(project_id)
    # A provider may answer with a dated model name ("gpt-4o-mini-2024-07-18"): the name
    # that was asked for prices it when the answered one has no price.
    prices = price_of(usage.model, global_prices, own) or price_of(
        usage.extra.get("requested_model"), global_prices, own
    )
    cost = cost_of(prices, usage.prompt_tokens, usage.completion_tokens)
    row = {
        "run_id": run_id, "project_id": project_id, "task_id": task_id, "run_no": run_no,
        "model": usage.model, "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens, "first_token_s": usage.first_token_s,
        "latency_s": usage.latency_s, "cost": cost,
        "estimated": int(bool(usage.extra.get("estimated"))),
    }  # fmt: skip
    usage_rows.record_usage(context.db(), row)
    return _run_usage(row)


def _run_usage(row: dict[str, Any]) -> RunUsage:
    return RunUsage(
        row["model"], row["prompt_tokens"], row["completion_tokens"], row["first_token_s"],
        row["latency_s"], row["cost"], bool(row.get("estimated")),
    )  # fmt: skip


def run_usage(run_id: str) -> RunUsage | None:
    row = usage_rows.usage_of_runs(context.db(), [run_id]).get(run_id)
    return None if row is None else _run_usage(row)


def runs_usage(run_ids: list[str]) -> dict[str, RunUsage]:
    rows = usage_rows.usage_of_runs(context.db(), run_ids)
    return {run_id: _run_usage(row) for run_id, row in rows.items()}


def task_usage(project_id: str, task_id: str) -> dict[str, Any]:
    """All runs of a task, summed (runs, prompt/completion tokens, cost, latency)."""
    return usage_rows.usage_of_task(context.db(), project_id, task_id)


def graph_usage(project_id: str, graph_id: str) -> dict[str, Any]:
    """Every run of every member of a workflow, summed."""
    return usage_rows.usage_of_graph(context.db(), project_id, graph_id)


def project_usage(project_id: str) -> dict[str, Any]:
    """Every run of a project, summed."""
    return usage_rows.usage_of_project(context.db(), project_id)


def usage_totals() -> list[dict[str, Any]]:
    """Totals per project and model (the /metrics counters)."""
    return usage_rows.usage_by_model(context.db())


def shows_usage(project_id: str) -> bool:
    """Does the project have prompt tasks (so its task list shows the usage columns)?"""
    return usage_rows.has_usage_or_prompts(context.db(), project_id)


# -- limits ---------------------------------------------------------------------------------
def _check_limits(changes: dict[str, Any]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "budget_tokens":
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise InvalidTaskRequest("budget_tokens must be a positive whole number")
        elif name == "budget_cost":
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise InvalidTaskRequest("budget_cost must be a positive number of USD")
            value = None if value is None else float(value)
        elif name == "prices":
            if value is not None:
                try:
                    value = check_prices(value, "llm_prices")
                except ValueError as error:
                    raise InvalidTaskRequest(str(error)) from None
        else:
            raise InvalidTaskRequest(f"unknown limit {name!r}")
        checked[name] = value
    return checked


def get_limits(project_id: str, task_id: str = PROJECT_LIMIT) -> dict[str, Any]:
    return usage_rows.get_limits(context.db(), project_id, task_id)


def set_limits(project_id: str, task_id: str = PROJECT_LIMIT, **changes: Any) -> dict[str, Any]:
    """Set a project's (or one task's) budget_tokens, budget_cost and/or prices."""
    check_project_id(project_id)
    usage_rows.set_limits(context.db(), project_id, task_id, _check_limits(changes))
    return get_limits(project_id, task_id)


def budgets_for(project_id: str, task_id: str, model: str | None) -> list[Budget]:
    """The budgets a run of this task must stay within, with what was spent of each."""
    db = context.db()
    global_prices, own = _prices(project_id)
    prices = price_of(model, global_prices, own)
    budgets = []
    for scope, limits, spent in (
        ("task", usage_rows.get_limits(db, project_id, task_id),
         usage_rows.usage_of_task(db, project_id, task_id)),
        ("project", usage_rows.get_limits(db, project_id),
         usage_rows.usage_of_project(db, project_id)),
    ):  # fmt: skip
        if limits["budget_tokens"] is None and limits["budget_cost"] is None:
            continue
        budgets.append(
            Budget(
                f"{scope} budget", max_tokens=limits["budget_tokens"],
                max_cost=limits["budget_cost"], prices=prices,
                spent_tokens=spent["prompt_tokens"] + spent["completion_tokens"],
                spent_cost=spent["cost"] or 0.0,
            )
        )  # fmt: skip
    return budgets


def with_usage(meta: Any) -> Any:
    """``meta`` (a TaskMeta) with its current run's usage, for prompt and agent tasks."""
    if meta.type not in ("prompt", "agent"):
        return meta
    return replace(meta, usage=run_usage(meta.run_id))


USAGE_SORTS = ("tokens", "-tokens", "cost", "-cost")
"""List orders by usage: most first; a leading "-" for least first."""


def task_list_by_usage(project_id: str, sort: str, *, status=None, type=None, search=None,
                       limit: int = 50, offset: int = 0):  # fmt: skip
    """``task_list`` (same filters and total) ordered by the current run's tokens or cost."""
    from webapp.orchestration.query import _statuses, get_task_meta, task_list

    if sort not in USAGE_SORTS:
        raise InvalidTaskRequest(
            f"Unknown sort {sort!r}; expected one of: {', '.join(USAGE_SORTS)}"
        )
    page = task_list(project_id, status=status, type=type, search=search, limit=limit,
                     offset=offset)  # fmt: skip
    if search:
        return page  # a text search keeps its own (relevance-free, newest-first) page
    ids = usage_rows.task_ids_by_usage(
        context.db(), project_id, sort.lstrip("-"), descending=not sort.startswith("-"),
        statuses=_statuses(status), type=type or None, limit=limit, offset=offset,
    )  # fmt: skip
    return replace(page, items=[get_task_meta(project_id, task_id) for task_id in ids])
