"""Notifications end to end: a real worker runs the task, the automation loop queues and
sends, a real HTTP server on 127.0.0.1 (webhooks) and a real SMTP server (aiosmtpd) receive."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from webapp import orchestration as orch
from webapp.orchestration import notifications
from webapp.store import automation
from webapp.worker.automation import AutomationLoop


class Hook(ThreadingHTTPServer):
    """Answers each POST with the next status of ``answers`` (then 200); keeps the bodies."""

    daemon_threads = True

    def __init__(self, answers=(), hold: threading.Event | None = None):
        super().__init__(("127.0.0.1", 0), HookHandler)
        self.answers = list(answers)
        self.bodies: list[dict] = []
        self.hold = hold
        self.arrived = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/T0KEN-secret-path"


class HookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the http.server naming
        server: Hook = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.bodies.append(body)
        server.arrived.set()
        if server.hold is not None:
            server.hold.wait(30)
        status = server.answers.pop(0) if server.answers else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hook_server():
    servers = []

    def start(answers=(), hold=None) -> Hook:
        server = Hook(answers, hold)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.hold is not None:
            server.hold.set()
        server.shutdown()
        server.server_close()


def run_to_end(make_worker, until, task):
    worker = make_worker(1)
    until(lambda: orch.get_task_meta(task.project_id, task.task_id).is_terminal,
          step=worker.run_once)  # fmt: skip
    return orch.get_task_meta(task.project_id, task.task_id)


def test_a_failure_reaches_a_webhook_that_fails_twice_then_accepts(
    settings, project, make_worker, until, hook_server
):
    hook = hook_server(answers=[500, 500])
    notifications.channel_create(project.id, name="ops", kind="webhook", target=hook.url)
    task = orch.task_new(project.id, name="nightly-build",
                         payload="echo compiling; echo 'error: it broke' >&2; exit 3")  # fmt: skip
    assert run_to_end(make_worker, until, task).status == "failed"
    loop = AutomationLoop(settings)
    now = time.time()
    assert loop.tick(now) == {"fired": 0, "released": 0, "queued": 1, "sent": 1}
    assert loop.tick(now + 1)["sent"] == 0  # backing off
    assert loop.tick(now + 10)["sent"] == 1
    assert loop.tick(now + 30)["sent"] == 1
    assert loop.tick(now + 1000) == {"fired": 0, "released": 0, "queued": 0, "sent": 0}
    assert len(hook.bodies) == 3 and hook.bodies[0] == hook.bodies[2]
    body = hook.bodies[-1]
    assert body["task_id"] == task.task_id and body["name"] == "nightly-build"
    assert body["status"] == "failed" and body["exit_code"] == 3 and body["event"] == "failed"
    assert "compiling" in body["log_tail"] and "error: it broke" in body["log_tail"]
    assert body["url"].endswith(f"/projects/demo/tasks/{task.task_id}")
    (delivery,) = notifications.delivery_list(project.id)
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    assert delivery["last_error"].startswith("HTTP 500")


def test_a_slow_webhook_never_delays_a_run(settings, project, make_worker, until, hook_server):
    release = threading.Event()
    hook = hook_server(hold=release)
    notifications.channel_create(project.id, name="ops", kind="slack", target=hook.url)
    worker = make_worker(2, start=True)  # claim loop and automation loop on their threads
    failing = orch.task_new(project.id, payload="exit 1")
    assert hook.arrived.wait(30), "the failure was never sent"
    assert hook.bodies[0]["text"].startswith(f"*[demo] {failing.name} ({failing.task_id})")
    quick = orch.task_new(project.id, payload="echo fine")
    until(lambda: orch.get_task_meta(project.id, quick.task_id).status == "completed")
    assert not release.is_set(), "the run finished while the webhook still held its request"
    release.set()
    until(lambda: notifications.delivery_list(project.id)[0]["status"] == "delivered")
    assert worker.stop(timeout=15)


def test_recovery_and_completion_events(settings, project, make_worker, until, hook_server):
    hook = hook_server()
    notifications.channel_create(project.id, name="teams", kind="teams", target=hook.url,
                                 events=["recovered"])  # fmt: skip
    loop = AutomationLoop(settings)
    task = orch.task_new(project.id, payload="test -e marker || { touch marker; exit 1; }")
    run_to_end(make_worker, until, task)
    loop.tick()
    assert hook.bodies == []  # a failure, but this channel only wants recoveries
    orch.task_retry(project.id, task.task_id)
    assert run_to_end(make_worker, until, task).status == "completed"
    loop.tick()
    (card,) = hook.bodies
    content = card["attachments"][0]["content"]
    assert content["type"] == "AdaptiveCard"
    assert "recovered" in content["body"][0]["text"]


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_failure_by_e_mail_through_a_local_smtp_server(tmp_path, make_worker, until):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mail_settings = orch.Settings.for_data_dir(
            tmp_path / "mail", smtp_host="127.0.0.1", smtp_port=controller.port,
            smtp_from="ci@example.org", public_url="https://tasks.example.org",
        )  # fmt: skip
        with orch.bind(mail_settings):
            orch.project_create("mail")
            notifications.channel_create("mail", name="team", kind="email",
                                         target="dev@example.org, ops@example.org")  # fmt: skip
            task = orch.task_new("mail", name="backup", payload="echo disk full; exit 2")
            worker = make_worker(1, target=mail_settings)
            until(lambda: orch.get_task_meta("mail", task.task_id).is_terminal,
                  step=worker.run_once)  # fmt: skip
            assert AutomationLoop(mail_settings).tick()["sent"] == 1
        (message,) = inbox.messages
        assert message.mail_from == "ci@example.org"
        assert message.rcpt_tos == ["dev@example.org", "ops@example.org"]
        text = message.content.decode()
        assert f"Subject: [mail] backup ({task.task_id}) failed (exit code 2)" in text
        assert f"https://tasks.example.org/projects/mail/tasks/{task.task_id}" in text
        assert "disk full" in text
    finally:
        controller.stop()
        mail_settings.store.close()


def test_channels_check_their_fields_and_hide_the_url(settings, project):
    url = "https://hooks.example.org/services/T000/B000/XXXXsecret"
    channel = notifications.channel_create(project.id, name="ops", kind="slack", target=url)
    assert channel.target_hint == "https://hooks.example.org/… (hidden)"
    assert url not in repr(channel) and url not in repr(notifications.channel_list(project.id))
    stored = automation.get_channel(settings.store.db, channel.id)
    assert stored["target"] == url  # kept for sending
    for fields, field in [
        ({"kind": "pager"}, "kind"),
        ({"target": "ftp://x"}, "target"),
        ({"kind": "email", "target": "nobody"}, "target"),
        ({"events": ["exploded"]}, "events"),
        ({"name": "ops"}, "name"),
    ]:
        values = {"name": "other", "kind": "webhook", "target": url} | fields
        with pytest.raises(notifications.InvalidChannel) as error:
            notifications.channel_create(project.id, **values)
        assert error.value.field == field
