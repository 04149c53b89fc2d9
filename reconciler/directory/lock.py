"""The apply lock's record and the rule that decides whether it may be broken (pure, except the pid probe).

The lock says who holds it (``holder``), where (``host``, ``pid``), a random ``token`` that only the
holder knows, and a ``heartbeat`` the holder renews while its apply runs. ``--break-lock`` removes
a lock only when its holder is gone: on the same host its process no longer exists; on another
host its heartbeat is older than ``STALE_AFTER_SECONDS``. ``--force`` overrides that. Release and
renewal compare the token first, so an apply never deletes or renews a lock it does not hold.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from reconciler.directory.base import LOCK_CN, LockInfo, Marker, now_utc
from reconciler.i18n import _

#: how often a running apply renews its lock's heartbeat
HEARTBEAT_SECONDS = 20.0
#: the largest difference allowed between the runner's clock and the directory server's
MAX_CLOCK_SKEW_SECONDS = 300.0
#: a lock on another host whose heartbeat is older than this is stale (several missed heartbeats,
#: plus the clock difference the skew check allows between the two runners)
STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS + 2 * MAX_CLOCK_SKEW_SECONDS


@dataclass(frozen=True, slots=True)
class LockRecord:
    holder: str
    host: str
    pid: int
    token: str
    since: str
    heartbeat: str

    @staticmethod
    def new(holder: str, now: datetime | None = None) -> LockRecord:
        moment = (now or now_utc()).isoformat(timespec="seconds")
        return LockRecord(holder, socket.gethostname(), os.getpid(), secrets.token_hex(16), moment, moment)

    def marker(self) -> Marker:
        return Marker(LOCK_CN, {"holder": self.holder, "host": self.host, "pid": self.pid, "token": self.token,
                                "since": self.since, "heartbeat": self.heartbeat})

    def renewed(self, now: datetime | None = None) -> LockRecord:
        return LockRecord(self.holder, self.host, self.pid, self.token, self.since,
                          (now or now_utc()).isoformat(timespec="seconds"))



def token_fragment(token: str) -> str:
    """The text of the encoded lock marker that names this token (for a substring assertion)."""
    return f'"token": "{token}"'


def info_of(marker: Marker | None) -> LockInfo | None:
    if marker is None:
        return None
    data = marker.data
    pid = data.get("pid")
    return LockInfo(str(data.get("holder", "?")), str(data.get("since", "?")),
                    str(data["host"]) if data.get("host") else None, pid if isinstance(pid, int) else None,
                    str(data["heartbeat"]) if data.get("heartbeat") else None)


def token_of(marker: Marker | None) -> str | None:
    token = marker.data.get("token") if marker else None
    return token if isinstance(token, str) else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, someone else's
        return True
    return True


def break_refusal(info: LockInfo, *, now: datetime, here: str | None = None,
                  alive: Callable[[int], bool] = process_alive) -> str | None:
    """Why the lock must not be broken (its holder is alive), or None when it is stale."""
    here = here or socket.gethostname()
    if info.host == here and info.pid is not None:
        if alive(info.pid):
            return _("its holder, process {pid} on this host, is still running").format(pid=info.pid)
        return None
    if info.heartbeat is None:
        return None  # a lock from before heartbeats: nothing says its holder is alive
    try:
        beat = datetime.fromisoformat(info.heartbeat)
    except ValueError:
        return None
    age = (now - beat).total_seconds()
    if age < STALE_AFTER_SECONDS:
        return _("its holder on {host} renewed it {age} s ago "
                 "(a lock is stale after {stale} s without a heartbeat)").format(
            host=info.host or _("another host"), age=max(0, round(age)), stale=f"{STALE_AFTER_SECONDS:.0f}")
    return None


def refused_message(where: str, info: LockInfo, reason: str) -> str:
    return _("refusing to break the apply lock {where} ({lock}): {reason}; wait for that apply to "
             "end, or add --force if you are sure it is gone").format(where=where, lock=info.describe(), reason=reason)


#: the heartbeats running in this process (quiet_heartbeats holds them between beats)
_RUNNING: weakref.WeakSet[Heartbeat] = weakref.WeakSet()


class Heartbeat:
    """Calls ``beat`` every HEARTBEAT_SECONDS on a thread of its own until stopped. ``beat`` gets a dict
    that lives as long as the thread (for a connection of its own) and must not raise; the dict's
    values with a ``close`` method are closed at the end."""

    def __init__(self, beat: Callable[[dict], None]) -> None:
        self.beat = beat
        self.stopped = threading.Event()
        #: held while a beat runs (it may hold a client library's lock): see quiet_heartbeats
        self.beating = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="reconciler-lock-heartbeat", daemon=True)

    def start(self) -> None:
        _RUNNING.add(self)
        self.thread.start()

    def _run(self) -> None:
        state: dict = {}
        try:
            while not self.stopped.wait(HEARTBEAT_SECONDS):
                with self.beating:
                    self.beat(state)
        finally:
            for value in state.values():
                close = getattr(value, "close", None)
                if close is not None:
                    close()

    def stop(self) -> None:
        _RUNNING.discard(self)
        self.stopped.set()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout=5)


@contextmanager
def quiet_heartbeats() -> Iterator[set[threading.Thread]]:
    """Hold every running heartbeat between two beats for the block, and yield their threads.

    A process may fork while its heartbeat thread waits (it holds nothing then), never during a beat:
    the child would inherit a client library's lock that no thread of its own would ever release.
    """
    beats = list(_RUNNING)
    for heart in beats:
        heart.beating.acquire()
    try:
        yield {heart.thread for heart in beats}
    finally:
        for heart in beats:
            heart.beating.release()
