"""Schedules and notifications in the dashboard: forms that name the bad field and keep the
input, the next-five preview, roles, the audit log, and a webhook URL that is never shown."""

from __future__ import annotations

import json

from webapp import orchestration
from webapp.orchestration import notifications, schedule_firing, schedules

SECRET_URL = "https://hooks.example.org/services/T01/B02/TOPSECRETtoken"


def test_operators_create_a_schedule_and_see_its_next_runs(operator_client, project):
    response = operator_client.post(
        "/projects/demo/schedules",
        data={
            "name": "nightly-build",
            "cron": "0 2 * * *",
            "timezone": "Europe/Berlin",
            "payload": "make build",
            "overlap": "skip",
            "misfire": "once",
            "task_type": "bash",
        },  # fmt: skip
    )
    assert response.status_code == 303
    page = operator_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "nightly-build" in page and "0 2 * * *" in page
    assert page.count("02:00 CET") == 5  # the next five runs, in the schedule's zone
    listing = operator_client.get("/projects/demo/schedules").get_data(as_text=True)
    assert 'data-schedule="nightly-build"' in listing


def test_a_bad_field_is_named_and_the_input_kept(operator_client, project):
    response = operator_client.post(
        "/projects/demo/schedules",
        data={"name": "every-hour", "cron": "61 * * * *", "payload": "echo kept-input"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The minute field &#39;61&#39; is not valid" in html
    assert 'id="cron-error"' in html and "echo kept-input" in html and 'value="every-hour"' in html
    assert schedules.schedule_list("demo") == []


def test_the_preview_fragment_lists_five_times_or_names_the_error(viewer_client, project):
    ok = viewer_client.get("/projects/demo/schedules/preview?cron=*/5+*+*+*+*&timezone=UTC")
    assert ok.get_data(as_text=True).count("<li>") == 5
    bad = viewer_client.get("/projects/demo/schedules/preview?cron=61+*+*+*+*")
    assert 'data-preview-error="cron"' in bad.get_data(as_text=True)
    zone = viewer_client.get("/projects/demo/schedules/preview?cron=*+*+*+*+*&timezone=Nowhere")
    assert 'data-preview-error="timezone"' in zone.get_data(as_text=True)


def test_viewers_cannot_change_schedules(viewer_client, project):
    response = viewer_client.post(
        "/projects/demo/schedules", data={"name": "x", "cron": "* * * * *", "payload": "true"}
    )
    assert response.status_code == 403


def test_pause_resume_delete_and_the_audit_log(operator_client, admin_client, project):
    schedules.schedule_create("demo", name="hourly", cron="0 * * * *", payload="true")
    assert operator_client.post("/projects/demo/schedules/hourly/pause").status_code == 303
    assert not schedules.schedule_get("demo", "hourly").enabled
    assert operator_client.post("/projects/demo/schedules/hourly/resume").status_code == 303
    assert schedules.schedule_get("demo", "hourly").enabled
    assert operator_client.post("/projects/demo/schedules/hourly/delete").status_code == 403
    assert admin_client.post("/projects/demo/schedules/hourly/delete").status_code == 303
    audit = admin_client.get("/admin/audit").get_data(as_text=True)
    for action in ("schedule.pause", "schedule.resume", "schedule.delete"):
        assert action in audit or action.replace(".", " ") in audit


def test_a_scheduled_task_links_to_its_schedule(operator_client, project):
    schedule = schedules.schedule_create("demo", name="nightly", cron="*/5 * * * *",
                                         payload="true", now=1_000_000.0)  # fmt: skip
    (fire,) = schedule_firing.fire_due(now=schedule.next_at)
    page = operator_client.get(f"/projects/demo/tasks/{fire['task_id']}").get_data(as_text=True)
    assert 'schedule <a href="/projects/demo/schedules/nightly">nightly</a>' in page


def test_a_webhook_url_is_never_shown(admin_client, api_headers, project):
    response = admin_client.post(
        "/projects/demo/notifications",
        data={"name": "ops", "kind": "slack", "target": SECRET_URL, "events": ["failed"]},
    )
    assert response.status_code == 303
    page = admin_client.get("/projects/demo/notifications").get_data(as_text=True)
    assert "https://hooks.example.org/… (hidden)" in page
    audit = admin_client.get("/admin/audit").get_data(as_text=True)
    api = admin_client.get("/api/v1/projects/demo", headers=api_headers("admin"))
    assert api.status_code == 200
    for text in (page, audit, api.get_data(as_text=True)):
        assert "TOPSECRET" not in text
    # and the archive of a deleted task of that project
    task = orchestration.task_new("demo", payload="echo hi", actor="test")
    orchestration.task_delete("demo", task.task_id, actor="test")
    archive_root = orchestration.current().archive_root
    for path in archive_root.rglob("*"):
        if path.is_file():
            assert b"TOPSECRET" not in path.read_bytes(), path


def test_channel_errors_never_echo_the_target(admin_client, project):
    response = admin_client.post(
        "/projects/demo/notifications",
        data={"name": "ops", "kind": "webhook", "target": "ftp://TOPSECRET", "events": []},
    )
    assert response.status_code == 422
    assert "TOPSECRET" not in response.get_data(as_text=True)
    assert notifications.channel_list("demo") == []


def test_operators_cannot_add_channels(operator_client, project):
    response = operator_client.post(
        "/projects/demo/notifications",
        data={"name": "ops", "kind": "slack", "target": SECRET_URL, "events": ["failed"]},
    )
    assert response.status_code == 403
    assert json.dumps(notifications.channel_list("demo")) == "[]"
