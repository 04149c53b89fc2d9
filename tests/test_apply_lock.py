"""The apply lock: who holds it, a token only the holder knows, a heartbeat, and when it may be broken.

Against a real slapd through both client libraries, and the embedded LDIF directory's operating
-system lock (fcntl.flock) with real processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.slapd import MAILBOX_BASE, Slapd

from reconciler.directory import lock as locking
from reconciler.directory.base import LOCK_CN, Add, LockedError, LockInfo, Modify
from reconciler.directory.clients.interface import ConnectionLost
from reconciler.directory.ldapserver import LdapDirectory
from reconciler.directory.ldiffile import LdifDirectory
from reconciler.settings import DirectorySettings

CLIENTS = ["python-ldap", "ldap3"]
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
LOCK_DN = f"cn={LOCK_CN},{MAILBOX_BASE}"


def directory(server: Slapd, client: str) -> LdapDirectory:
    settings = DirectorySettings(url=server.url.rstrip("/"), base_dn=MAILBOX_BASE, bind_dn=server.admin_dn,
                                 bind_password=server.admin_password, timeout_seconds=5)
    return LdapDirectory(settings, client=client)


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def put_lock(server: Slapd, **data: object) -> None:
    server.ldapadd(f"dn: {LOCK_DN}\nobjectClass: applicationProcess\ncn: {LOCK_CN}\n"
                   f"description: {json.dumps(data, sort_keys=True)}\n")


def lock_exists(server: Slapd) -> bool:
    return f"cn={LOCK_CN}" in server.ldapsearch(MAILBOX_BASE, scope="one", attrs=["1.1"])


# -- the rule, at its boundaries -------------------------------------------------------------------------


def info(**kwargs: object) -> LockInfo:
    return LockInfo(**{"holder": "ci@runner", "since": NOW.isoformat(), **kwargs})  # type: ignore[arg-type]


def test_same_host_a_running_holder_is_not_broken_a_dead_one_is():
    assert locking.break_refusal(info(host="here", pid=41), now=NOW, here="here", alive=lambda _pid: True)
    assert locking.break_refusal(info(host="here", pid=41), now=NOW, here="here", alive=lambda _pid: False) is None
    # A fresh heartbeat does not keep a dead process's lock alive on its own host.
    assert locking.break_refusal(info(host="here", pid=41, heartbeat=NOW.isoformat()), now=NOW, here="here",
                                 alive=lambda _pid: False) is None


def test_other_host_a_fresh_heartbeat_is_not_broken_a_stale_one_is():
    stale = locking.STALE_AFTER_SECONDS

    def refusal(age: float) -> str | None:
        beat = (NOW - timedelta(seconds=age)).isoformat()
        return locking.break_refusal(info(host="other", pid=41, heartbeat=beat), now=NOW, here="here",
                                     alive=lambda _pid: pytest.fail("a pid of another host is never probed"))

    assert refusal(0) and refusal(stale - 1)
    assert refusal(stale) is None and refusal(stale + 1) is None
    assert stale > 2 * locking.MAX_CLOCK_SKEW_SECONDS  # two runners' clocks may each be off by the allowed skew


def test_a_live_pid_is_seen_alive():
    assert locking.process_alive(os.getpid())
    assert not locking.process_alive(dead_pid())


# -- slapd, both clients -------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_a_lock_left_by_a_dead_process_on_this_host_is_broken(slapd, client):
    put_lock(slapd, holder="ci-run-40@runner", host=os.uname().nodename, pid=dead_pid(), token="t",
             since=NOW.isoformat(), heartbeat=datetime.now(UTC).isoformat())
    found = directory(slapd, client)
    try:
        broken = found.break_lock()
    finally:
        found.close()
    assert broken is not None and broken.holder == "ci-run-40@runner"
    assert not lock_exists(slapd)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_lock_of_another_host_with_a_fresh_heartbeat_needs_force(slapd, client):
    put_lock(slapd, holder="ci-run-40@runner", host="another-runner", pid=1, token="t", since=NOW.isoformat(),
             heartbeat=datetime.now(UTC).isoformat())
    found = directory(slapd, client)
    try:
        with pytest.raises(LockedError, match=r"refusing to break the apply lock.*another-runner.*--force"):
            found.break_lock()
        assert lock_exists(slapd)
        assert found.break_lock(force=True) is not None
    finally:
        found.close()
    assert not lock_exists(slapd)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_stale_heartbeat_of_another_host_is_broken(slapd, client):
    old = datetime.now(UTC) - timedelta(seconds=locking.STALE_AFTER_SECONDS + 60)
    put_lock(slapd, holder="ci-run-40@runner", host="another-runner", pid=1, token="t", since=old.isoformat(),
             heartbeat=old.isoformat())
    found = directory(slapd, client)
    try:
        assert found.break_lock() is not None
    finally:
        found.close()
    assert not lock_exists(slapd)


@pytest.mark.parametrize("client", CLIENTS)
def test_release_deletes_only_the_callers_own_lock(slapd, client):
    first, second, third = (directory(slapd, client) for _ in range(3))
    try:
        first.acquire_lock("apply-1")
        assert second.break_lock(force=True) is not None  # someone forces it away while apply-1 still runs
        second.acquire_lock("apply-2")
        first.release_lock()  # apply-1 ends: it must not delete apply-2's lock
        assert lock_exists(slapd)
        with pytest.raises(LockedError, match=r"another apply holds the lock.*apply-2"):
            third.acquire_lock("apply-3")
        second.release_lock()
        assert not lock_exists(slapd)
    finally:
        for each in (first, second, third):
            each.close()


@pytest.mark.parametrize("client", CLIENTS)
def test_a_lost_answer_to_the_lock_add_is_settled_by_the_token(slapd, client, monkeypatch):
    """The add reached the server but its answer was lost: the apply holds the lock, and says so."""
    found = directory(slapd, client)
    real_add = type(found.client).add
    calls: list[str] = []

    def add_then_lose_the_answer(self, dn, attrs, **kwargs):
        calls.append(dn)
        real_add(self, dn, attrs, **kwargs)
        if len(calls) == 1:
            raise ConnectionLost("ldap://127.0.0.1: lost the connection")

    monkeypatch.setattr(type(found.client), "add", add_then_lose_the_answer)
    try:
        found.acquire_lock("apply-1")  # no "another apply holds the lock" about itself
        assert lock_exists(slapd)
        other = directory(slapd, client)
        with pytest.raises(LockedError, match="apply-1"):
            other.acquire_lock("apply-2")
        other.close()
    finally:
        found.release_lock()
        found.close()
    assert not lock_exists(slapd)


@pytest.mark.parametrize("client", CLIENTS)
def test_the_holder_renews_its_heartbeat_while_it_runs(slapd, client, monkeypatch):
    monkeypatch.setattr(locking, "HEARTBEAT_SECONDS", 0.2)
    holder = directory(slapd, client)
    holder.acquire_lock("apply-1")
    try:
        first = holder.read_marker(LOCK_CN)
        assert first is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = holder.read_marker(LOCK_CN)
            assert now is not None and now.data["token"] == first.data["token"]
            if now.data["heartbeat"] != first.data["heartbeat"]:
                break
        else:
            pytest.fail("the heartbeat was never renewed")
    finally:
        holder.release_lock()
        holder.close()


# -- the embedded directory: an operating-system lock ----------------------------------------------------------

HOLD = """
import sys, time
from pathlib import Path
from reconciler.directory.ldiffile import LdifDirectory
d = LdifDirectory(Path(sys.argv[1]), "ou=mailboxes,dc=quangngai,dc=gov,dc=vn")
d.acquire_lock("apply-in-another-process")
print("locked", flush=True)
time.sleep(60)
"""


def hold_in_another_process(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_ldif_lock_is_held_while_its_process_runs_and_gone_when_it_is_killed(tmp_path):
    path = tmp_path / "directory.ldif"
    proc = hold_in_another_process(path)
    mine = LdifDirectory(path, MAILBOX_BASE)
    try:
        with pytest.raises(LockedError, match=r"another apply holds the lock.*apply-in-another-process"):
            mine.acquire_lock("apply-2")
        with pytest.raises(LockedError, match="refusing to break the apply lock"):
            mine.break_lock(force=True)
        with pytest.raises(LockedError):  # every writer takes the lock, not only apply
            mine.write([Add(f"uid=x,{MAILBOX_BASE}", {"uid": ["x"]})], lambda _i, _e: None)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    mine.acquire_lock("apply-2")  # the kernel released the killed process's lock
    mine.release_lock()


def test_ldif_writers_re_read_the_file_under_the_lock(tmp_path):
    path = tmp_path / "directory.ldif"
    first, second = LdifDirectory(path, MAILBOX_BASE), LdifDirectory(path, MAILBOX_BASE)
    assert list(first.search("inetOrgPerson", ["uid"])) == []  # first has read (and cached) the empty file
    second.write([Add(f"uid=a,{MAILBOX_BASE}", {"objectClass": ["inetOrgPerson"], "uid": ["a"]})],
                 lambda _i, e: None)
    errors: list[str | None] = []
    first.write([Add(f"uid=b,{MAILBOX_BASE}", {"objectClass": ["inetOrgPerson"], "uid": ["b"]}),
                 Modify(f"uid=a,{MAILBOX_BASE}", {"cn": ["A"]})], lambda _i, e: errors.append(e))
    assert errors == [None, None]  # uid=a, written by the other writer, was seen
    uids = sorted(e.first("uid") for e in LdifDirectory(path, MAILBOX_BASE).search("inetOrgPerson", ["uid"]))
    assert uids == ["a", "b"]


def test_credentials_issue_takes_the_embedded_directorys_lock(repo, run_cli):
    repo.write("so-tttt.yaml", "unit:\n  id: so-tttt\n  name: Sở\nmailboxes:\n"
               "  - address: annv@quangngai.gov.vn\n    name: Nguyễn Văn An\n    kind: personal\n"
               "    owner: {id: QN-1, name: Nguyễn Văn An}\n    status: active\n")
    repo.commit()
    assert run_cli("apply", "--yes", cwd=repo.root).exit_code == 0
    path = repo.root / "var" / "directory.ldif"
    before = path.read_bytes()
    proc = hold_in_another_process(path)
    try:
        issued = run_cli("credentials", "issue", "annv@quangngai.gov.vn", "--print", cwd=repo.root)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert issued.exit_code == 1
    assert "another apply holds the lock" in issued.stderr and len(issued.stderr.splitlines()) == 1
    assert path.read_bytes() == before  # the password was not stored, and not shown either
    assert "One-time password" not in issued.stdout
    assert run_cli("credentials", "issue", "annv@quangngai.gov.vn", "--print", cwd=repo.root).exit_code == 0
