"""Database faults as the rooms above see them: which fault an error is (locked, read-only,
...), dropping this thread's connections after one, and the busy timeout. The store owns the
connections; the web reaches them only through here."""

from __future__ import annotations

from webapp.store.db import fault_of, forget_thread_connections, set_busy_timeout

__all__ = ["fault_of", "forget_thread_connections", "set_busy_timeout"]
