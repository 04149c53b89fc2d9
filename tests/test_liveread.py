"""The directory read of plan and apply runs in a forked child for an LDAP server: the same accounts,
the same one-line errors, as a read in the process itself (against a real slapd)."""

from __future__ import annotations

import os
import threading

import pytest
from support.fastread import directory_for, directory_ldif

from reconciler.directory import lock, profiles
from reconciler.directory.base import DirectoryError
from reconciler.plan import apply as reconcile
from reconciler.plan import liveread
from reconciler.problems import ReconcilerError


def read_live(directory):
    return reconcile.read_live(directory, profiles.get("openldap"))


@pytest.fixture
def loaded(slapd):
    slapd.ldapadd(directory_ldif(slapd.mailbox_base))
    return slapd


@pytest.mark.parametrize("fast_read", [True, False], ids=["python-ldap", "ldap3"])
def test_a_read_in_a_child_gives_the_accounts_a_read_here_gives(loaded, fast_read):
    reading = liveread.start(directory_for(loaded, fast_read=fast_read, page_size=7), read_live)
    assert isinstance(reading, liveread.ChildReading)
    here = read_live(directory_for(loaded, fast_read=fast_read, page_size=7))
    assert len(here) == 23
    assert reading.result() == here


def test_a_failed_read_in_a_child_is_the_same_one_line_error(loaded):
    here = None
    try:
        read_live(directory_for(loaded, fast_read=True, password="wrong"))
    except DirectoryError as err:
        here = str(err)
    assert here is not None and "invalid credentials" in here
    reading = liveread.start(directory_for(loaded, fast_read=True, password="wrong"), read_live)
    with pytest.raises(DirectoryError) as raised:
        reading.result()
    assert str(raised.value) == here


def test_a_child_that_dies_or_breaks_is_one_line_too(loaded):
    def dies(_directory):
        os._exit(3)

    def breaks(_directory):
        raise KeyError("mail")

    with pytest.raises(ReconcilerError, match=r"ended without a result \(exit code 3\)"):
        liveread.start(directory_for(loaded, fast_read=True), dies).result()
    with pytest.raises(ReconcilerError, match="internal error while reading the directory: KeyError"):
        liveread.start(directory_for(loaded, fast_read=True), breaks).result()


def test_the_embedded_directory_is_read_in_a_thread(tmp_path):
    from reconciler.directory.ldiffile import LdifDirectory

    reading = liveread.start(LdifDirectory(tmp_path / "directory.ldif", "ou=mailboxes,dc=quangngai,dc=gov,dc=vn"),
                             read_live)
    assert isinstance(reading, liveread.ThreadReading)
    assert reading.result() == {}


def test_an_apply_heartbeat_does_not_keep_the_read_in_a_thread(loaded):
    """apply holds the lock (its heartbeat thread runs) while it reads: the read still forks, between beats."""
    heart = lock.Heartbeat(lambda state: None)
    heart.start()
    try:
        reading = liveread.start(directory_for(loaded, fast_read=True), read_live)
        assert isinstance(reading, liveread.ChildReading)
        assert len(reading.result()) == 23
    finally:
        heart.stop()


def test_any_other_thread_keeps_the_read_in_this_process(loaded):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        reading = liveread.start(directory_for(loaded, fast_read=True), read_live)
        assert isinstance(reading, liveread.ThreadReading)
        assert len(reading.result()) == 23
    finally:
        stop.set()
        other.join()


def test_the_fork_waits_for_a_beat_in_progress(loaded, monkeypatch):
    monkeypatch.setattr(lock, "HEARTBEAT_SECONDS", 0.01)
    beating, finish = threading.Event(), threading.Event()

    def beat(state: dict) -> None:
        beating.set()
        finish.wait(5)

    heart = lock.Heartbeat(beat)
    heart.start()
    started: list[liveread.Reading] = []
    try:
        assert beating.wait(5)
        reader = threading.Thread(target=lambda: started.append(
            liveread.start(directory_for(loaded, fast_read=True), read_live)))
        reader.start()
        reader.join(0.3)
        assert started == []  # held until the beat ends: a fork now could copy a lock the beat holds
        finish.set()
        reader.join(5)
        assert len(started) == 1 and len(started[0].result()) == 23
    finally:
        finish.set()
        heart.stop()
