"""A project's "Models" tab: what its prompt runs used and cost, its budget and its prices.

Admins change the budget (tokens and/or USD, over all the project's runs) and the project's
own price table (USD per million tokens per model, winning over LLM_PRICES) here; the same
lives in the API under ``/api/v1/projects/<project>/llm-limits``.
"""

from __future__ import annotations

import json
from decimal import Decimal

from flask import Blueprint, abort, redirect, render_template, request, url_for
from wtforms import DecimalField, Form, IntegerField, TextAreaField
from wtforms.validators import NumberRange, Optional

from webapp import orchestration
from webapp.orchestration import errors, llm
from webapp.web import lookup
from webapp.web.auditing import record_audit
from webapp.web.forms import attach_error
from webapp.web.roles import require_role

bp = Blueprint("models", __name__, url_prefix="/projects/<project_id>/models")
lookup.register(bp)


class LimitsForm(Form):
    budget_tokens = IntegerField(
        "Token budget", validators=[Optional(), NumberRange(min=1, max=10**12)]
    )
    budget_cost = DecimalField(
        "Cost budget (USD)", places=None, validators=[Optional(), NumberRange(min=0.000001)]
    )
    prices = TextAreaField("Prices (JSON, USD per million tokens)", validators=[Optional()])


def _page(project_id: str, form: LimitsForm, status: int = 200):
    project = orchestration.project_get(project_id)
    totals = [t for t in llm.usage_totals() if t["project_id"] == project_id]
    html = render_template(
        "projects/models.html",
        project=project,
        form=form,
        limits=llm.get_limits(project_id),
        usage=llm.project_usage(project_id),
        by_model=totals,
        global_prices=orchestration.current().llm_prices or {},
    )
    return html, status


@bp.get("")
def show(project_id: str):
    limits = llm.get_limits(project_id)
    form = LimitsForm(
        budget_tokens=limits["budget_tokens"],
        budget_cost=None if limits["budget_cost"] is None else Decimal(str(limits["budget_cost"])),
        prices=json.dumps(limits["prices"], indent=2) if limits["prices"] else "",
    )
    return _page(project_id, form)


@bp.post("")
@require_role("admin")
def update(project_id: str):
    orchestration.project_get(project_id)
    form = LimitsForm(request.form)
    if not form.validate():
        return _page(project_id, form, 422)
    prices = None
    if (form.prices.data or "").strip():
        try:
            prices = json.loads(form.prices.data)
        except ValueError as error:
            attach_error(form, "prices", f"Not JSON: {error}")
            return _page(project_id, form, 422)
    cost = form.budget_cost.data
    try:
        llm.set_limits(
            project_id,
            budget_tokens=form.budget_tokens.data,
            budget_cost=None if cost is None else float(cost),
            prices=prices,
        )
    except errors.OrchestrationError as error:
        attach_error(form, "prices", str(error))
        return _page(project_id, form, 422)
    record_audit("project.llm_limits", project_id, "budget_tokens, budget_cost, prices")
    return redirect(url_for("models.show", project_id=project_id), 303)


class TaskBudgetForm(Form):
    budget_tokens = IntegerField(
        "Token budget", validators=[Optional(), NumberRange(min=1, max=10**12)]
    )
    budget_cost = DecimalField(
        "Cost budget (USD)", places=None, validators=[Optional(), NumberRange(min=0.000001)]
    )


def task_budget(task) -> dict | None:
    """A prompt or agent task's own budget and what its runs used (for its page)."""
    if task.type not in ("prompt", "agent"):
        return None
    return {
        "limits": llm.get_limits(task.project_id, task.task_id),
        "usage": llm.task_usage(task.project_id, task.task_id),
    }


@bp.post("/tasks/<task_id>")
@require_role("operator")
def update_task(project_id: str, task_id: str):
    """Set a task's own budget (over all its runs); back to the task page."""
    task_id = orchestration.resolve_task_id(project_id, task_id)
    form = TaskBudgetForm(request.form)
    if not form.validate():
        problems = "; ".join(f"{f.label.text}: {e}" for f in form for e in f.errors)
        abort(400, problems)
    cost = form.budget_cost.data
    llm.set_limits(project_id, task_id, budget_tokens=form.budget_tokens.data,
                   budget_cost=None if cost is None else float(cost))  # fmt: skip
    record_audit("task.llm_limits", f"{project_id}/{task_id}", "budget_tokens, budget_cost")
    return redirect(url_for("tasks.show", project_id=project_id, task_id=task_id), 303)
