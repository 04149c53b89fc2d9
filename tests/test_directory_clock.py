"""Disable times and grace periods come from the directory server's clock, not the runner's.

slapd's clock is read from the lock entry's modifyTimestamp; a runner whose clock differs from it
by more than MAX_CLOCK_SKEW_SECONDS is refused with one line before anything changes. The
embedded LDIF directory has no clock of its own: the local one is used. The test suite's ``--now``
replaces the time used, while the skew check still compares the real clocks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.backends import Backend
from support.slapd import MAILBOX_BASE
from support.units import one_mailbox as unit

from reconciler.directory.base import LOCK_CN
from reconciler.directory.ldapserver import LdapDirectory
from reconciler.directory.lock import MAX_CLOCK_SKEW_SECONDS
from reconciler.directory.profiles.openldap import parse_generalized_time
from reconciler.plan import serverclock
from reconciler.settings import DirectorySettings

ANNV = "annv@quangngai.gov.vn"


@pytest.fixture
def server_repo(repo, slapd, run_cli):
    backend = Backend("slapd", repo.root, slapd, {"RECONCILER_BIND_DN": slapd.admin_dn,
                                                  "RECONCILER_BIND_PASSWORD": slapd.admin_password})
    backend.configure(repo.config)

    def cli(*args: str):
        if repo.git.is_dirty(untracked_files=True):
            repo.commit()
        return run_cli(*args, cwd=repo.root, env=backend.env)

    repo.write("so-tttt.yaml", unit("active"))
    assert cli("apply", "--yes").exit_code == 0
    return backend, cli


def runner_clock_off(monkeypatch, seconds: float) -> None:
    monkeypatch.setattr(serverclock, "now_utc", lambda: datetime.now(UTC) + timedelta(seconds=seconds))


def test_the_server_clock_is_read_from_the_lock(slapd, client):
    settings = DirectorySettings(url=slapd.url.rstrip("/"), base_dn=MAILBOX_BASE, bind_dn=slapd.admin_dn,
                                 bind_password=slapd.admin_password)
    directory = LdapDirectory(settings, client=client)
    try:
        assert directory.server_time() is None  # no lock held: nothing written, no clock
        directory.acquire_lock("clock-test")
        server = directory.server_time()
        assert server is not None and abs((server - datetime.now(UTC)).total_seconds()) < 5
        assert directory.read_marker(LOCK_CN) is not None
        directory.release_lock()
    finally:
        directory.close()


@pytest.mark.parametrize("days", [40, -365])
def test_a_runner_whose_clock_is_off_is_refused(server_repo, client, monkeypatch, days):
    backend, cli = server_repo
    runner_clock_off(monkeypatch, days * 86400)
    backend_before = backend.entry(ANNV)
    (backend.root / "mailboxes" / "so-tttt.yaml").write_text(unit("disabled"), encoding="utf-8")
    result = cli("apply", "--yes")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    direction = "ahead of" if days > 0 else "behind"
    assert line.startswith("error: this runner's clock is ") and f"{direction} the directory server's" in line
    assert "nothing was changed" in line
    assert backend.entry(ANNV) == backend_before
    assert f"cn={LOCK_CN}" not in backend.slapd.ldapsearch(MAILBOX_BASE, scope="one", attrs=["1.1"])


def test_a_small_difference_is_allowed_and_the_disable_time_is_the_servers(server_repo, client, monkeypatch):
    backend, cli = server_repo
    runner_clock_off(monkeypatch, -(MAX_CLOCK_SKEW_SECONDS - 60))  # four minutes slow: allowed
    (backend.root / "mailboxes" / "so-tttt.yaml").write_text(unit("disabled"), encoding="utf-8")
    result = cli("apply", "--yes")
    assert result.exit_code == 0, result.output
    entry = backend.entry(ANNV)
    assert entry is not None
    disabled = parse_generalized_time(entry["pwdendtime"][0])
    modified = parse_generalized_time(entry["modifytimestamp"][0])
    assert abs((disabled - modified).total_seconds()) < 10  # the server's time, not the runner's (4 min slow)


def test_the_test_clock_is_used_while_the_real_clocks_are_compared(server_repo, client):
    backend, cli = server_repo
    (backend.root / "mailboxes" / "so-tttt.yaml").write_text(unit("disabled"), encoding="utf-8")
    result = cli("apply", "--yes", "--now", "2026-01-15T08:00:00+07:00")
    assert result.exit_code == 0, result.output
    entry = backend.entry(ANNV)
    assert entry is not None and entry["pwdendtime"] == ["20260115010000Z"]
