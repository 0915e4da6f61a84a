"""The JSON API for schedules, notification channels and deliveries."""

from __future__ import annotations

from webapp.orchestration import notifications

URL = "https://hooks.example.org/services/T01/B02/TOPSECRETtoken"


def test_schedules_through_the_api(client, api_headers, project):
    operator, admin = api_headers("operator"), api_headers("admin")
    created = client.post(
        "/api/v1/projects/demo/schedules",
        json={"name": "nightly", "cron": "0 3 * * *", "timezone": "UTC", "payload": "make"},
        headers=operator,
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["kind"] == "cron" and len(body["next_runs"]) == 5
    assert all(run.endswith("T03:00:00+00:00") for run in body["next_runs"])
    listed = client.get("/api/v1/projects/demo/schedules", headers=api_headers("viewer"))
    assert [s["name"] for s in listed.get_json()] == ["nightly"]
    paused = client.patch("/api/v1/projects/demo/schedules/nightly", json={"enabled": False},
                          headers=operator)  # fmt: skip
    assert paused.status_code == 200 and paused.get_json()["next_runs"] == []
    assert client.delete("/api/v1/projects/demo/schedules/nightly",
                         headers=operator).status_code == 403  # fmt: skip
    assert client.delete("/api/v1/projects/demo/schedules/nightly",
                         headers=admin).status_code == 200  # fmt: skip
    assert client.get("/api/v1/projects/demo/schedules/nightly",
                      headers=admin).status_code == 404  # fmt: skip


def test_a_bad_schedule_is_a_422_naming_the_field(client, api_headers, project):
    response = client.post(
        "/api/v1/projects/demo/schedules",
        json={"name": "bad", "cron": "61 * * * *", "payload": "true"},
        headers=api_headers("operator"),
    )
    assert response.status_code == 422
    assert "minute field" in response.get_json()["detail"]
    assert response.get_json()["field"] == "cron"


def test_channels_are_write_only_and_deliveries_listed(client, api_headers, project):
    admin = api_headers("admin")
    created = client.post(
        "/api/v1/projects/demo/notifications",
        json={"name": "ops", "kind": "slack", "target": URL, "events": ["failed", "lost"]},
        headers=admin,
    )
    assert created.status_code == 201
    assert "TOPSECRET" not in created.get_data(as_text=True)
    assert created.get_json()["target_hint"] == "https://hooks.example.org/… (hidden)"
    listed = client.get("/api/v1/projects/demo/notifications", headers=api_headers("viewer"))
    assert "TOPSECRET" not in listed.get_data(as_text=True)
    refused = client.post(
        "/api/v1/projects/demo/notifications",
        json={"name": "x", "kind": "slack", "target": URL},
        headers=api_headers("operator"),
    )
    assert refused.status_code == 403
    deliveries = client.get("/api/v1/projects/demo/deliveries", headers=admin)
    assert deliveries.status_code == 200 and deliveries.get_json() == []
    assert client.delete("/api/v1/projects/demo/notifications/ops",
                         headers=admin).status_code == 200  # fmt: skip
    assert notifications.channel_list("demo") == []
