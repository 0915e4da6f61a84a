"""Sending queued notifications: webhooks (generic, Slack, Teams) and e-mail, with backoff.

:func:`deliver_due` leases due deliveries (one short transaction moves their ``next_at``
past the send), sends each outside any transaction, then records the outcome: delivered, or
the error with the next attempt after ``RETRY_BASE * 2**attempts`` seconds, until
``MAX_ATTEMPTS`` makes it ``failed``. A process that dies mid-send leaves a lease that runs
out, and another process sends it again.
"""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any

from webapp.orchestration import context
from webapp.orchestration.schedules import write_transaction
from webapp.store import automation, records

RETRY_BASE = 10.0
MAX_ATTEMPTS = 6
LEASE = 120.0
SEND_TIMEOUT = 10.0
_COLOURS = {"failed": "d1242f", "lost": "bf8700", "recovered": "1a7f37", "completed": "1a7f37"}


def summary(payload: dict[str, Any]) -> str:
    """One line a person reads first: what happened to which task."""
    code = "" if payload["exit_code"] is None else f" (exit code {payload['exit_code']})"
    task = f"{payload['name']} ({payload['task_id']})"
    return f"[{payload['project']}] {task} {payload['event']}{code}"


def _text(payload: dict[str, Any]) -> str:
    lines = [summary(payload), payload["url"]]
    if payload.get("reason"):
        lines.append(f"Reason: {payload['reason']}")
    if payload["log_tail"]:
        lines += ["", "Last log lines:", *payload["log_tail"]]
    return "\n".join(lines)


def body_for(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The JSON a channel of ``kind`` expects."""
    if kind == "slack":
        tail = "\n".join(payload["log_tail"][-10:])
        text = f"*{summary(payload)}*\n<{payload['url']}|Open the task>"
        if tail:
            text += f"\n```{tail}```"
        return {"text": text}
    if kind == "teams":
        facts = [
            {"title": "Status", "value": payload["status"]},
            {"title": "Exit code", "value": str(payload["exit_code"])},
        ]
        return {
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard", "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": summary(payload), "weight": "Bolder",
                         "wrap": True, "color": "Attention" if payload["event"] in
                         ("failed", "lost") else "Good"},
                        {"type": "FactSet", "facts": facts},
                        {"type": "TextBlock", "text": "\n".join(payload["log_tail"][-10:]),
                         "wrap": True, "fontType": "Monospace"},
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open the task",
                                 "url": payload["url"]}],
                },
            }],
        }  # fmt: skip
    return {**payload, "summary": summary(payload), "colour": _COLOURS.get(payload["event"])}


def _post(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "webapp-notifications"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:
            response.read(65536)
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DeliveryError(f"could not reach the webhook's host: {reason}") from None


def _mail(settings: Any, recipients: str, payload: dict[str, Any]) -> None:
    if not settings.smtp_host:
        raise DeliveryError("no SMTP server is configured (set WEBAPP_SMTP_HOST)")
    message = EmailMessage()
    message["Subject"] = summary(payload)
    message["From"] = settings.smtp_from
    message["To"] = recipients
    message.set_content(_text(payload))
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SEND_TIMEOUT) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {error}") from None


class DeliveryError(Exception):
    """A send that did not go through; the message is what the deliveries page shows."""


def send(channel: dict[str, Any], payload: dict[str, Any]) -> None:
    """Send one notification now; DeliveryError when it did not go through."""
    if channel["kind"] == "email":
        _mail(context.current(), channel["target"], payload)
    else:
        _post(channel["target"], body_for(channel["kind"], payload))


def deliver_due(now: float) -> list[dict[str, Any]]:
    """Send every due delivery once; returns them with their new status."""
    db = context.db()
    with write_transaction():
        leased = [
            row for row in automation.due_deliveries(db, now)
            if automation.lease_delivery(db, row["id"], now, now + LEASE)
        ]  # fmt: skip
    done = []
    for row in leased:
        channel = automation.get_channel(db, row["channel_id"])
        attempts = row["attempts"] + 1
        if channel is None or not channel["enabled"]:
            fields = {"status": "failed", "last_error": "the channel was deleted or disabled"}
        else:
            try:
                send(channel, json.loads(row["payload"]))
            except DeliveryError as error:
                final = attempts >= MAX_ATTEMPTS
                fields = {
                    "status": "failed" if final else "pending",
                    "last_error": str(error)[:500],
                    "next_at": now + RETRY_BASE * 2 ** (attempts - 1),
                }
            else:
                fields = {"status": "delivered", "delivered_at": records.now_text()}
        fields["attempts"] = attempts
        with write_transaction():
            automation.update_delivery(db, row["id"], fields)
        done.append({**row, **fields})
    return done


def send_test(project_id: str, ref: str) -> None:
    """Send a made-up failure to one channel now (the form's "Send a test")."""
    from webapp.orchestration.notifications import _find

    channel = _find(context.db(), project_id, ref)
    base = context.current().public_url.rstrip("/")
    send(
        channel,
        {
            "event": "failed", "project": project_id, "task_id": "test", "name": "test",
            "status": "failed", "exit_code": 1, "reason": "a test notification", "run": 1,
            "at": records.now_text(), "url": f"{base}/projects/{project_id}",
            "log_tail": ["this is a test of the notification channel"],
        },
    )  # fmt: skip
