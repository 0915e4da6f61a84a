"""Login throttling: free attempts, then growing waits, then a lock; per user and address."""

from __future__ import annotations

import pytest

from webapp.accounts import throttle

POLICY = throttle.ThrottlePolicy(
    free_attempts=3, lock_after=6, lock_seconds=600, window_seconds=600, max_delay=60
)
T0 = 1_000_000.0


def fail(db, n: int, *, address="10.0.0.1", username="bob", start=T0, step=100.0):
    verdict = None
    for i in range(n):
        verdict = throttle.record_failure(db, address, username, POLICY, now=start + i * step)
    return verdict


def test_free_attempts_then_a_wait_that_doubles(db):
    assert fail(db, 3, step=0.0).allowed is False  # the third failure starts the waiting
    verdict = throttle.check(db, "10.0.0.1", "bob", POLICY, now=T0 + 0.5)
    assert not verdict.allowed and verdict.wait_seconds == 1 and not verdict.locked
    assert "wait 1 second" in verdict.message
    assert throttle.check(db, "10.0.0.1", "bob", POLICY, now=T0 + 1).allowed
    throttle.record_failure(db, "10.0.0.1", "bob", POLICY, now=T0 + 1)
    verdict = throttle.check(db, "10.0.0.1", "bob", POLICY, now=T0 + 1.5)
    assert verdict.wait_seconds == 2


def test_lock_after_enough_failures_even_for_the_right_password(db):
    verdict = fail(db, 6)
    assert verdict.locked and "locked" in verdict.message and "10 minutes" in verdict.message
    later = T0 + 5 * 100 + 599
    assert throttle.check(db, "10.0.0.1", "bob", POLICY, now=later).locked
    assert throttle.check(db, "10.0.0.1", "bob", POLICY, now=T0 + 5 * 100 + 600).allowed


def test_the_lock_is_per_user_from_any_address(db):
    fail(db, 6, address="10.0.0.1")
    assert throttle.check(db, "10.9.9.9", "bob", POLICY, now=T0 + 501).locked
    assert throttle.check(db, "10.9.9.9", "alice", POLICY, now=T0 + 501).allowed


def test_an_address_guessing_many_users_is_locked_too(db):
    for i in range(POLICY.lock_after * throttle.ADDRESS_FACTOR):
        throttle.record_failure(db, "10.0.0.1", f"user{i}", POLICY, now=T0 + i)
    verdict = throttle.check(db, "10.0.0.1", "someone-new", POLICY, now=T0 + 100)
    assert verdict.locked
    assert throttle.check(db, "10.0.0.2", "someone-new", POLICY, now=T0 + 100).allowed


def test_success_clears_the_users_count_and_old_failures_are_forgotten(db):
    fail(db, 3, step=0.0)
    throttle.record_success(db, "BOB")
    assert throttle.check(db, "10.0.0.2", "bob", POLICY, now=T0 + 0.1).allowed
    fail(db, 3, username="carol", step=0.0)
    assert throttle.check(db, "10.0.0.3", "carol", POLICY, now=T0 + 601).allowed


@pytest.mark.parametrize("username", ["", "not a name", "x" * 300])
def test_odd_usernames_count_against_the_address_only(db, username):
    verdict = fail(db, 2, username=username)
    assert verdict.allowed
    rows = db.execute("SELECT key FROM login_throttle").fetchall()
    assert rows == [("addr:10.0.0.1",)]
