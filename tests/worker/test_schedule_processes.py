"""Two worker processes on one database step the same clock: each slot fires exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime

from webapp import orchestration as orch
from webapp.orchestration import schedules
from webapp.store import automation

START = datetime(2026, 12, 2, 12, 0, 30, tzinfo=UTC).timestamp()

STEPPER = textwrap.dedent(
    """
    import json, sys
    from webapp import orchestration as orch
    from webapp.worker.automation import AutomationLoop
    data_dir, start = sys.argv[1], float(sys.argv[2])
    settings = orch.Settings.for_data_dir(data_dir)
    loop = AutomationLoop(settings)
    fired = 0
    for step in range(0, 3600, 20):  # one hour on a clock the test controls
        fired += loop.tick(start + step)["fired"]
    settings.store.close()
    print(json.dumps({"fired": fired}))
    """
)


def test_every_slot_fires_once_with_two_processes(settings, project):
    schedules.schedule_create(project.id, name="five", cron="*/5 * * * *", payload="true",
                              overlap="parallel", now=START)  # fmt: skip
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", STEPPER, str(settings.data_dir), str(START)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    fired = [json.loads(out)["fired"] for out, _ in outputs]
    slots = automation.fires_of(settings.store.db, schedules.schedule_get(
        project.id, "five").id, limit=100)  # fmt: skip
    assert sum(fired) == 12 == len(slots)
    assert {row["state"] for row in slots} == {"started"}
    assert len({row["slot"] for row in slots}) == 12
    assert all(datetime.fromtimestamp(row["slot"], UTC).minute % 5 == 0 for row in slots)
    assert orch.task_list(project.id).total == 12
