"""Login throttling per address and per username: slow down, then lock for a while.

After ``free_attempts`` failures in a row, each further attempt must wait (1 s, 2 s, 4 s, ...
up to ``max_delay``) after the last failure; at ``lock_after`` failures the key is locked for
``lock_seconds``, even for the right password. Failures older than ``window_seconds`` are
forgotten. An address gets ``ADDRESS_FACTOR`` times the allowance of a username, since many
people may share one address. A successful login clears its username's count only, so one
valid account cannot be used to reset an address that is guessing others' passwords.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from sqlite_utils import Database

from webapp.accounts.users import USERNAME_RE
from webapp.store import accounts as store
from webapp.store.db import immediate

ADDRESS_FACTOR = 3


@dataclass(frozen=True)
class ThrottlePolicy:
    free_attempts: int = 5
    lock_after: int = 10
    lock_seconds: float = 900.0
    window_seconds: float = 900.0
    max_delay: float = 60.0

    def for_address(self) -> ThrottlePolicy:
        return replace(
            self,
            free_attempts=self.free_attempts * ADDRESS_FACTOR,
            lock_after=self.lock_after * ADDRESS_FACTOR,
        )


@dataclass(frozen=True)
class Verdict:
    """Whether a login attempt may be checked now, and if not for how long to wait."""

    allowed: bool
    wait_seconds: int = 0
    locked: bool = False

    @property
    def message(self) -> str:
        if self.allowed:
            return ""
        if self.locked:
            minutes = max(1, math.ceil(self.wait_seconds / 60))
            return (
                "Too many failed logins: sign-in is locked for this account or address. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
            )
        seconds = self.wait_seconds
        return (
            f"Too many failed logins: wait {seconds} second{'s' if seconds != 1 else ''} "
            "before trying again."
        )


def _keys(address: str | None, username: str) -> list[tuple[str, bool]]:
    """(key, is_address) pairs for one attempt."""
    keys = [(f"addr:{address or 'unknown'}", True)]
    name = (username or "").strip().lower()
    if USERNAME_RE.fullmatch(name):
        keys.append((f"user:{name}", False))
    return keys


def _fresh(row: dict | None, policy: ThrottlePolicy, now: float) -> int:
    """The failures that still count for this row at ``now``."""
    if row is None:
        return 0
    if row["locked_until"] and now >= row["locked_until"]:
        return 0
    if now - row["last_at"] > policy.window_seconds:
        return 0
    return row["failures"]


def _verdict(row: dict | None, policy: ThrottlePolicy, now: float) -> Verdict:
    failures = _fresh(row, policy, now)
    if row is not None and row["locked_until"] > now:
        return Verdict(False, math.ceil(row["locked_until"] - now), locked=True)
    if failures < policy.free_attempts:
        return Verdict(True)
    delay = min(2.0 ** (failures - policy.free_attempts), policy.max_delay)
    ready_at = row["last_at"] + delay
    if now >= ready_at:
        return Verdict(True)
    return Verdict(False, math.ceil(ready_at - now))


def _worst(verdicts: list[Verdict]) -> Verdict:
    blocked = [v for v in verdicts if not v.allowed]
    if not blocked:
        return Verdict(True)
    return max(blocked, key=lambda v: (v.locked, v.wait_seconds))


def check(
    db: Database,
    address: str | None,
    username: str,
    policy: ThrottlePolicy,
    *,
    now: float | None = None,
) -> Verdict:
    """May this address try this username now?"""
    now = time.time() if now is None else now
    keys = _keys(address, username)
    rows = {row["key"]: row for row in store.throttle_rows(db, [key for key, _ in keys])}
    return _worst(
        [
            _verdict(rows.get(key), policy.for_address() if is_addr else policy, now)
            for key, is_addr in keys
        ]
    )


def record_failure(
    db: Database,
    address: str | None,
    username: str,
    policy: ThrottlePolicy,
    *,
    now: float | None = None,
) -> Verdict:
    """Count a failed attempt; returns what the next attempt will face."""
    now = time.time() if now is None else now
    keys = _keys(address, username)
    verdicts = []
    with immediate(db):
        rows = {row["key"]: row for row in store.throttle_rows(db, [key for key, _ in keys])}
        for key, is_addr in keys:
            rule = policy.for_address() if is_addr else policy
            failures = _fresh(rows.get(key), rule, now) + 1
            locked_until = now + rule.lock_seconds if failures >= rule.lock_after else 0.0
            row = {"key": key, "failures": failures, "last_at": now, "locked_until": locked_until}
            store.save_throttle(db, row)
            verdicts.append(_verdict(row, rule, now))
        horizon = now - max(policy.window_seconds, policy.lock_seconds)
        store.prune_throttle(db, older_than=horizon, now=now)
    return _worst(verdicts)


def record_success(db: Database, username: str) -> None:
    """A good password clears that username's failures (not the address's)."""
    store.delete_throttle(db, f"user:{(username or '').strip().lower()}")
