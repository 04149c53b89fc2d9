"""The lock's own rules, as pure functions: when a lock may be broken, what its record says, the heartbeat.

The end-to-end behaviour (two applies, a killed holder, --break-lock against a live apply) is in
tests/test_apply_lock.py against slapd and the LDIF file; these pin every branch of the decision.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.directory import lock
from reconciler.directory.base import LOCK_CN, LockInfo, Marker

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def info(*, host: str | None = "runner-1", pid: int | None = 4242, heartbeat: object = "unset") -> LockInfo:
    beat = (NOW - timedelta(seconds=10)).isoformat() if heartbeat == "unset" else heartbeat
    return LockInfo("ci@runner-1", "2026-11-29T07:59:00+00:00", host, pid, beat)  # type: ignore[arg-type]


def test_same_host_holder_alive_refuses_and_dead_allows():
    assert "process 4242 on this host, is still running" in lock.break_refusal(
        info(), now=NOW, here="runner-1", alive=lambda pid: pid == 4242)
    assert lock.break_refusal(info(), now=NOW, here="runner-1", alive=lambda pid: False) is None


def test_same_host_without_a_pid_falls_back_to_the_heartbeat():
    assert lock.break_refusal(info(pid=None), now=NOW, here="runner-1", alive=lambda pid: True) is not None
    stale = info(pid=None, heartbeat=(NOW - timedelta(seconds=lock.STALE_AFTER_SECONDS + 1)).isoformat())
    assert lock.break_refusal(stale, now=NOW, here="runner-1", alive=lambda pid: True) is None


@pytest.mark.parametrize(("age", "refused"), [
    (0, True), (lock.STALE_AFTER_SECONDS - 1, True), (lock.STALE_AFTER_SECONDS, False),
    (lock.STALE_AFTER_SECONDS + 1, False)])
def test_another_hosts_lock_is_stale_only_after_missed_heartbeats(age, refused):
    held = info(heartbeat=(NOW - timedelta(seconds=age)).isoformat())
    reason = lock.break_refusal(held, now=NOW, here="runner-2", alive=lambda pid: pytest.fail("no pid probe"))
    assert (reason is not None) is refused
    if refused:
        assert reason.startswith("its holder on runner-1 renewed it ")


def test_a_lock_without_heartbeat_or_with_an_unreadable_one_may_be_broken():
    assert lock.break_refusal(info(heartbeat=None), now=NOW, here="runner-2") is None
    assert lock.break_refusal(info(heartbeat="yesterday"), now=NOW, here="runner-2") is None


def test_an_unknown_host_is_named_as_such():
    reason = lock.break_refusal(info(host=None), now=NOW, here="runner-2")
    assert reason is not None and reason.startswith("its holder on another host renewed it")


def test_the_record_round_trips_through_the_marker_and_renewal_keeps_the_token():
    record = lock.LockRecord.new("ci@runner-1", NOW)
    assert dataclasses.is_dataclass(record)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.token = "x"  # type: ignore[misc]
    marker = record.marker()
    assert marker.name == LOCK_CN and lock.token_of(marker) == record.token
    assert lock.token_fragment(record.token) in marker.encode()
    assert lock.info_of(marker) == LockInfo("ci@runner-1", NOW.isoformat(), record.host, record.pid,
                                            NOW.isoformat())
    later = record.renewed(NOW + timedelta(seconds=20))
    assert (later.token, later.since, later.heartbeat) == (record.token, record.since,
                                                          (NOW + timedelta(seconds=20)).isoformat())


def test_a_marker_that_is_not_a_lock_record_reads_as_little_as_it_says():
    assert lock.info_of(None) is None and lock.token_of(None) is None
    odd = Marker(LOCK_CN, {"holder": "x", "pid": "not a number", "token": 7})
    assert lock.info_of(odd) == LockInfo("x", "?", None, None, None)
    assert lock.token_of(odd) is None


def test_the_heartbeat_beats_until_stopped_then_closes_what_it_opened(monkeypatch):
    monkeypatch.setattr(lock, "HEARTBEAT_SECONDS", 0.01)
    beats = threading.Semaphore(0)
    closed = threading.Event()

    class Connection:
        def close(self) -> None:
            closed.set()

    def beat(state: dict) -> None:
        state.setdefault("connection", Connection())
        beats.release()

    heart = lock.Heartbeat(beat)
    assert heart.thread.daemon  # never keeps a finished (or killed) apply's process alive
    heart.start()
    assert all(beats.acquire(timeout=5) for _ in range(3))
    heart.stop()
    assert not heart.thread.is_alive() and closed.is_set()


def test_the_heartbeat_closes_only_what_can_be_closed_and_may_stop_itself(monkeypatch):
    """A beat that finds its lock gone stops the heartbeat from its own thread: that must neither join
    itself (a RuntimeError) nor trip over state values that have nothing to close."""
    monkeypatch.setattr(lock, "HEARTBEAT_SECONDS", 0.01)
    errors: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    finished = threading.Event()

    def beat(state: dict) -> None:
        state["count"] = 1  # no close(): left alone
        try:
            heart.stop()
        finally:
            finished.set()

    heart = lock.Heartbeat(beat)
    heart.start()
    assert finished.wait(5)
    heart.thread.join(5)
    assert not heart.thread.is_alive() and errors == []
