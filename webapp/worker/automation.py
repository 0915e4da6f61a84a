"""The automation loop: fires due schedules and sends notifications beside the claim loop.

It runs on its own thread in every worker process, so a slow webhook or SMTP server never
delays a claim or a run; what it does is claimed in SQLite (see
:mod:`webapp.orchestration.schedule_firing` and :mod:`webapp.orchestration.delivery`), so any
number of processes share the work without doing it twice. Tests call ``tick(now=...)``.
"""

from __future__ import annotations

import logging
import threading
import time

from webapp.orchestration import delivery, notifications, schedule_firing
from webapp.orchestration.context import Settings, bind_forever

log = logging.getLogger(__name__)

INTERVAL = 1.0


class AutomationLoop:
    """``start()`` runs ``tick()`` every ``interval`` seconds until ``stop()``."""

    def __init__(self, settings: Settings, interval: float = INTERVAL) -> None:
        self.settings = settings
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: float | None = None) -> dict[str, int]:
        """One pass: due slots, held-back runs, new outcomes, due deliveries."""
        bind_forever(self.settings)
        now = time.time() if now is None else now
        done = {}
        steps = {
            "fired": lambda: len(schedule_firing.fire_due(now)),
            "released": lambda: len(schedule_firing.start_waiting(now)),
            "queued": lambda: notifications.enqueue_events(now),
            "sent": lambda: len(delivery.deliver_due(now)),
        }
        for name, step in steps.items():
            try:
                done[name] = step()
            except Exception:  # one failing step never stops the others or the loop
                log.exception("automation step %s failed", name)
                done[name] = 0
        return done

    def start(self) -> AutomationLoop:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="webapp-automation",
                                            daemon=True)  # fmt: skip
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
