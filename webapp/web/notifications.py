"""Notification pages: a project's channels (added, tested, paused, deleted by admins) and
its deliveries with their attempts and last error. Targets are write-only: after saving,
only their hint (scheme and host of a webhook) is ever shown."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from webapp import orchestration
from webapp.orchestration import delivery, notifications
from webapp.web import lookup
from webapp.web.auditing import record_audit
from webapp.web.roles import require_role

bp = Blueprint("notifications", __name__, url_prefix="/projects/<project_id>/notifications")
lookup.register(bp)

PAGE = 50


def _page(project_id: str, *, values=None, error=None, status: int = 200):
    before = request.args.get("before", type=int)
    rows = notifications.delivery_list(project_id, before=before, limit=PAGE + 1)
    html = render_template(
        "notifications/index.html", project=orchestration.project_get(project_id),
        channels=notifications.channel_list(project_id), deliveries=rows[:PAGE],
        older=rows[PAGE - 1]["id"] if len(rows) > PAGE else None, values=values or {},
        error=error, kinds=notifications.CHANNEL_KINDS, events=notifications.EVENTS,
        default_events=notifications.DEFAULT_EVENTS,
    )  # fmt: skip
    return html, status


@bp.get("")
def index(project_id: str):
    return _page(project_id)


@bp.post("")
@require_role("admin")
def create(project_id: str):
    form = request.form
    try:
        channel = notifications.channel_create(
            project_id, name=form.get("name", ""), kind=form.get("kind", ""),
            target=form.get("target", ""), events=form.getlist("events"),
            actor=lookup.current_actor(),
        )  # fmt: skip
    except notifications.InvalidChannel as error:
        kept = {k: v for k, v in form.items() if k != "target"}  # a secret is never echoed
        return _page(project_id, values=kept, error=error, status=422)
    record_audit(
        "notification.create", f"{project_id}/{channel.name}",
        f"{channel.kind} to {channel.target_hint}; on {', '.join(channel.events)}",
    )  # fmt: skip
    return redirect(url_for(".index", project_id=project_id), 303)


@bp.post("/<ref>/test")
@require_role("admin")
def test(project_id: str, ref: str):
    try:
        delivery.send_test(project_id, ref)
    except delivery.DeliveryError as error:
        flash(f"The test did not go through: {error}", "info")
    else:
        flash("Test notification sent.", "info")
    return redirect(url_for(".index", project_id=project_id), 303)


@bp.post("/<ref>/toggle")
@require_role("admin")
def toggle(project_id: str, ref: str):
    current = next(c for c in notifications.channel_list(project_id) if ref in (c.id, c.name))
    channel = notifications.channel_update(project_id, ref, enabled=not current.enabled)
    action = "notification.resume" if channel.enabled else "notification.pause"
    record_audit(action, f"{project_id}/{channel.name}")
    return redirect(url_for(".index", project_id=project_id), 303)


@bp.post("/<ref>/delete")
@require_role("admin")
def delete(project_id: str, ref: str):
    channel = notifications.channel_delete(project_id, ref)
    record_audit("notification.delete", f"{project_id}/{channel.name}")
    return redirect(url_for(".index", project_id=project_id), 303)
