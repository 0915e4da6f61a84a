"""The worker's log indexer: a background thread that feeds the full-text index of logs.

It never runs inside a task's output path or a request: it reads logs that grew (at most a
few MB per step, in whole lines) and commits small transactions, so a 50 MB log is indexed
while its task keeps writing and pages keep answering. ``run_once`` is one step a test can
call without the thread.
"""

from __future__ import annotations

import logging
import threading

from webapp.orchestration import search
from webapp.orchestration.context import Settings, bind_forever

log = logging.getLogger(__name__)

IDLE_WAIT = 1.0
BUSY_PAUSE = 0.01


class LogIndexer:
    def __init__(self, settings: Settings, *, idle_wait: float = IDLE_WAIT) -> None:
        self.settings = settings
        self.idle_wait = idle_wait
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One indexing step; the work done (0 when nothing was waiting)."""
        bind_forever(self.settings)
        return search.index_step()

    def start(self) -> LogIndexer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="log-indexer", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                work = self.run_once()
            except Exception:
                log.exception("log indexer step failed")
                work = 0
            self._stop.wait(BUSY_PAUSE if work else self.idle_wait)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
