"""Schedules pages: a project's schedules, the form with its next-five preview, one schedule
with its latest slots, pause/resume/delete. The rules are checked by orchestration."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, url_for
from markupsafe import Markup

from webapp import orchestration
from webapp.orchestration import schedules
from webapp.web import lookup
from webapp.web.auditing import record_audit
from webapp.web.roles import require_role

bp = Blueprint("schedules", __name__, url_prefix="/projects/<project_id>/schedules")
lookup.register(bp)

FIELDS = ("name", "cron", "every", "timezone", "overlap", "misfire", "task_name", "task_type",
          "payload", "description", "timeout")  # fmt: skip


def form_values(form) -> dict:
    """The schedule fields of a submitted form, typed; blanks left out or None."""
    values = {name: (form.get(name) or "").strip() for name in FIELDS if name in form}
    values["payload"] = form.get("payload") or ""
    for number in ("every", "timeout"):
        text = values.get(number)
        if text:
            try:
                values[number] = float(text)
            except ValueError:
                message = f"{number} must be a number of seconds, got {text!r}"
                raise schedules.InvalidSchedule(number, message) from None
        else:
            values[number] = None
    if values.get("every") is not None:
        values["cron"] = None
    else:
        values.pop("every", None)
    return values


def _page(project_id: str, *, values=None, error=None, status: int = 200):
    project = orchestration.project_get(project_id)
    html = render_template(
        "schedules/index.html", project=project, schedules=schedules.schedule_list(project_id),
        values=values or {}, error=error,
    )  # fmt: skip
    return html, status


@bp.get("")
def index(project_id: str):
    return _page(project_id)


@bp.post("")
@require_role("operator")
def create(project_id: str):
    try:
        values = form_values(request.form)
        schedule = schedules.schedule_create(project_id, actor=lookup.current_actor(), **values)
    except schedules.InvalidSchedule as error:
        return _page(project_id, values=request.form, error=error, status=422)
    record_audit("schedule.create", f"{project_id}/{schedule.name}", schedule.every)
    return redirect(url_for(".show", project_id=project_id, ref=schedule.name), 303)


@bp.get("/preview")
def preview(project_id: str):
    """The next five slots for the rule being typed (an htmx fragment), or the field error."""
    cron = request.args.get("cron", "").strip() or None
    every_text = request.args.get("every", "").strip()
    try:
        every = float(every_text) if every_text else None
        times = schedules.next_times(
            cron=cron, every=every if cron is None else None,
            timezone=request.args.get("timezone", "").strip() or "UTC",
        )  # fmt: skip
    except ValueError as error:
        field = getattr(error, "field", "every")
        return render_template("schedules/_preview.html", error=error, field=field)
    return render_template("schedules/_preview.html", times=times)


def _show(project_id: str, schedule, **extra) -> str:
    zone = ZoneInfo(schedule.timezone)
    fires = [
        {**fire, "slot_time": datetime.fromtimestamp(fire["slot"], zone)}
        for fire in schedules.schedule_fires(project_id, schedule.id)
    ]
    return render_template(
        "schedules/show.html", project=orchestration.project_get(project_id),
        schedule=schedule, fires=fires, **extra,
    )  # fmt: skip


@bp.get("/<ref>")
def show(project_id: str, ref: str):
    return _show(project_id, schedules.schedule_get(project_id, ref))


@bp.post("/<ref>")
@require_role("operator")
def update(project_id: str, ref: str):
    schedule = schedules.schedule_get(project_id, ref)
    try:
        changed = schedules.schedule_update(
            project_id, schedule.id, actor=lookup.current_actor(), **form_values(request.form)
        )
    except schedules.InvalidSchedule as error:
        return _show(project_id, schedule, values=request.form, error=error), 422
    record_audit("schedule.update", f"{project_id}/{changed.name}", changed.every)
    return redirect(url_for(".show", project_id=project_id, ref=changed.name), 303)


def _set_enabled(project_id: str, ref: str, enabled: bool):
    schedule = schedules.schedule_update(project_id, ref, enabled=enabled)
    record_audit(f"schedule.{'resume' if enabled else 'pause'}", f"{project_id}/{schedule.name}")
    return redirect(url_for(".show", project_id=project_id, ref=schedule.name), 303)


@bp.post("/<ref>/pause")
@require_role("operator")
def pause(project_id: str, ref: str):
    return _set_enabled(project_id, ref, False)


@bp.post("/<ref>/resume")
@require_role("operator")
def resume(project_id: str, ref: str):
    return _set_enabled(project_id, ref, True)


@bp.post("/<ref>/delete")
@require_role("admin")
def delete(project_id: str, ref: str):
    schedule = schedules.schedule_delete(project_id, ref)
    record_audit("schedule.delete", f"{project_id}/{schedule.name}")
    return redirect(url_for(".index", project_id=project_id), 303)


def actor_link(project_id: str, actor: str | None) -> Markup:
    """Who started a task, linked when it was a schedule ("schedule nightly-build")."""
    actor = actor or ""
    if actor.startswith(schedules.ACTOR_PREFIX):
        name = actor[len(schedules.ACTOR_PREFIX) :]
        url = url_for("schedules.show", project_id=project_id, ref=name)
        return Markup('schedule <a href="{}">{}</a>').format(url, name)
    return Markup("{}").format(actor)
