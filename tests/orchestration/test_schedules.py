"""Schedules: validation naming the field, the next slots, firing once per slot with the
overlap and misfire policies, all on a clock the test steps."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from webapp import orchestration as orch
from webapp.orchestration import schedule_firing, schedules
from webapp.orchestration.schedules import InvalidSchedule
from webapp.worker import Worker

T0 = datetime(2026, 12, 2, 12, 0, 30, tzinfo=UTC).timestamp()  # 30 s past a 5-minute slot


def make(project, now=T0, **fields):
    values = {"name": "nightly", "cron": "*/5 * * * *", "payload": "echo hi"} | fields
    return schedules.schedule_create(project.id, actor="alice", now=now, **values)


def finish(project_id, task_id):
    """Run the queued task to its end with a real worker."""
    worker = Worker(orch.current(), threads=1)
    deadline = time.monotonic() + 30
    try:
        while not orch.get_task_meta(project_id, task_id).is_terminal:
            assert time.monotonic() < deadline, "the task did not finish within 30 s"
            worker.run_once()
            threading.Event().wait(0.02)
    finally:
        worker.stop(timeout=15)


@pytest.mark.parametrize(
    ("line", "field_word"),
    [
        ("61 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* * 32 * *", "day of month"),
        ("* * * 13 *", "month"),
        ("* * * * 8", "day of week"),
    ],
)
def test_a_bad_cron_field_is_named(line, field_word):
    with pytest.raises(InvalidSchedule) as error:
        schedules.next_times(cron=line)
    assert error.value.field == "cron"
    assert f"The {field_word} field" in str(error.value)


def test_other_bad_fields_are_named(project):
    cases = {
        "timezone": {"timezone": "Mars/Olympus"},
        "every": {"cron": None, "every": 2},
        "overlap": {"overlap": "sometimes"},
        "misfire": {"misfire": "flood"},
        "payload": {"payload": "  "},
        "name": {"name": ""},
    }
    for field, change in cases.items():
        with pytest.raises(InvalidSchedule) as error:
            make(project, **change)
        assert error.value.field == field, (field, str(error.value))
    assert schedules.schedule_list(project.id) == []


def test_next_five_times_follow_the_rule_and_time_zone():
    times = schedules.next_times(cron="0 9 * * 1-5", timezone="Europe/Berlin", now=T0)
    assert len(times) == 5
    assert all(t.hour == 9 and t.minute == 0 and t.weekday() < 5 for t in times)
    assert times[0].utcoffset().total_seconds() == 3600  # CET in December
    every = schedules.next_times(every=600, now=T0, anchor=T0)
    assert [t.timestamp() - T0 for t in every] == [600, 1200, 1800, 2400, 3000]


def test_fires_once_per_slot_however_often_it_is_asked(project):
    schedule = make(project, overlap="parallel")
    slot = schedule.next_at
    assert datetime.fromtimestamp(slot, UTC).minute % 5 == 0 and slot > T0
    assert schedule_firing.fire_due(now=slot - 1) == []
    fired = schedule_firing.fire_due(now=slot + 1)
    assert [f["state"] for f in fired] == ["started"]
    assert schedule_firing.fire_due(now=slot + 2) == []
    task = orch.get_task_meta(project.id, fired[0]["task_id"])
    assert task.name == "nightly" and task.created_by == "schedule:nightly"
    assert schedule_firing.started_by(project.id, task.task_id)["schedule_name"] == "nightly"
    assert schedules.schedule_get(project.id, "nightly").next_at == slot + 300


def test_overlap_skip_skips_while_the_previous_run_is_going(project):
    schedule = make(project, overlap="skip")
    first = schedule_firing.fire_due(now=schedule.next_at)[0]
    second = schedule_firing.fire_due(now=schedule.next_at + 300)[0]
    assert second["state"] == "skipped"
    assert first["task_id"] in second["reason"]
    finish(project.id, first["task_id"])
    third = schedule_firing.fire_due(now=schedule.next_at + 600)[0]
    assert third["state"] == "started"


def test_overlap_queue_holds_one_run_until_the_previous_ends(project):
    schedule = make(project, overlap="queue")
    first = schedule_firing.fire_due(now=schedule.next_at)[0]
    assert schedule_firing.fire_due(now=schedule.next_at + 300)[0]["state"] == "waiting"
    assert schedule_firing.fire_due(now=schedule.next_at + 600)[0]["state"] == "skipped"
    assert schedule_firing.start_waiting(now=schedule.next_at + 601) == []
    finish(project.id, first["task_id"])
    released = schedule_firing.start_waiting(now=schedule.next_at + 602)
    assert len(released) == 1 and released[0]["task_id"] != first["task_id"]
    assert schedule_firing.start_waiting(now=schedule.next_at + 603) == []


def test_after_two_hours_down_misfire_once_runs_once_not_24_times(project):
    schedule = make(project, misfire="once", overlap="parallel")
    fired = schedule_firing.fire_due(now=schedule.next_at + 2 * 3600 + 10)
    assert len(fired) == 1 and fired[0]["state"] == "started"
    assert fired[0]["reason"].startswith("24 earlier slot(s) missed")
    tasks = orch.task_list(project.id).items
    assert len(tasks) == 1
    # the next slot is the first one after now, not one of the missed ones
    assert schedules.schedule_get(project.id, "nightly").next_at > schedule.next_at + 7200


def test_after_downtime_misfire_skip_runs_nothing_and_goes_on(project):
    schedule = make(project, misfire="skip")
    fired = schedule_firing.fire_due(now=schedule.next_at + 2 * 3600 + 100)
    assert [f["state"] for f in fired] == ["skipped"]
    assert orch.task_list(project.id).items == []
    following = schedules.schedule_get(project.id, "nightly").next_at
    assert [f["state"] for f in schedule_firing.fire_due(now=following + 1)] == ["started"]


def test_paused_schedules_do_not_fire_and_resume_from_now(project):
    schedule = make(project)
    schedules.schedule_update(project.id, "nightly", enabled=False, now=T0)
    assert schedule_firing.fire_due(now=schedule.next_at + 3600) == []
    resumed = schedules.schedule_update(project.id, "nightly", enabled=True,
                                        now=schedule.next_at + 3600)  # fmt: skip
    assert resumed.next_at > schedule.next_at + 3600


def test_interval_schedules_and_names_are_unique(project):
    schedule = make(project, name="every-minute", cron=None, every=60)
    assert schedule.kind == "interval" and schedule.next_at == pytest.approx(T0 + 60, abs=1)
    with pytest.raises(InvalidSchedule) as error:
        make(project, name="every-minute")
    assert error.value.field == "name"
    schedules.schedule_delete(project.id, "every-minute")
    with pytest.raises(orch.OrchestrationError):
        schedules.schedule_get(project.id, "every-minute")
