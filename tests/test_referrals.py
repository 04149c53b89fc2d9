"""Referrals are never chased: the bind DN and password go to the configured server and nowhere else.

An attacker who may write under base_dn replaces the reconciler's state marker or lock with an
LDAP referral to a host they control. A listener on 127.0.0.1 records every byte it receives; with
either client library, plan and apply end with one line naming the DN, and the listener receives
nothing (no bind, no password).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from support.slapd import MAILBOX_BASE, Slapd

from reconciler.directory.base import LOCK_CN, STATE_CN, MarkerError
from reconciler.directory.ldapserver import LdapDirectory
from reconciler.settings import DirectorySettings

CLIENTS = ["python-ldap", "ldap3"]
ANNV = "annv@quangngai.gov.vn"


class Listener:
    """Accepts every connection on 127.0.0.1 and keeps every byte it is sent."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(0.5)
            with conn:
                while not self._stop.is_set():
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        break
                    if not data:
                        break
                    self.received += data

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    started = Listener()
    yield started
    started.close()


def referral(server: Slapd, name: str, listener: Listener) -> None:
    dn = f"cn={name},{MAILBOX_BASE}"
    server.ldapadd(f"dn: {dn}\nobjectClass: referral\nobjectClass: extensibleObject\ncn: {name}\n"
                   f"ref: ldap://127.0.0.1:{listener.port}/{dn}\n", manage_dsa_it=True)


def unit_file() -> str:
    return ("unit:\n  id: so-tttt\n  name: Sở Thông tin và Truyền thông\nmailboxes:\n"
            f"  - address: {ANNV}\n    name: Nguyễn Văn An\n    kind: personal\n"
            "    owner: {id: QN-000123, name: Nguyễn Văn An}\n    status: active\n")


def cli_run(repo, run_cli, server: Slapd, *args: str):
    text = repo.config.read_text(encoding="utf-8").replace("url: ldif:var/directory.ldif",
                                                           f"url: {server.url.rstrip('/')}")
    repo.config.write_text(text, encoding="utf-8")
    repo.write("so-tttt.yaml", unit_file())
    if repo.git.is_dirty(untracked_files=True):
        repo.commit()
    return run_cli(*args, cwd=repo.root, env={"RECONCILER_BIND_DN": server.admin_dn,
                                              "RECONCILER_BIND_PASSWORD": server.admin_password})


def assert_refused(result, dn: str, server: Slapd, listener: Listener) -> None:
    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    assert "Traceback" not in output and server.admin_password not in output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and dn in line and "referral" in line, line
    assert bytes(listener.received) == b"" and listener.connections == 0, bytes(listener.received)


@pytest.mark.parametrize("command", [("plan",), ("apply", "--yes")])
def test_a_referral_in_place_of_the_state_marker_is_never_followed(repo, run_cli, slapd, listener, client, command):
    referral(slapd, STATE_CN, listener)
    result = cli_run(repo, run_cli, slapd, *command)
    assert_refused(result, f"cn={STATE_CN},{MAILBOX_BASE}", slapd, listener)
    assert f"ldap://127.0.0.1:{listener.port}/" in result.stderr  # read as an entry (ManageDsaIT): says where to
    assert "uid=annv" not in slapd.ldapsearch(MAILBOX_BASE, scope="one", attrs=["1.1"])  # nothing applied
    # and the apply left no lock behind
    assert f"cn={LOCK_CN}" not in slapd.ldapsearch(MAILBOX_BASE, scope="one", attrs=["1.1"])


def test_a_referral_in_place_of_the_lock_is_never_followed(repo, run_cli, slapd, listener, client):
    referral(slapd, LOCK_CN, listener)
    result = cli_run(repo, run_cli, slapd, "apply", "--yes")
    assert_refused(result, f"cn={LOCK_CN},{MAILBOX_BASE}", slapd, listener)
    broken = run_cli("apply", "--yes", "--break-lock", "--force", cwd=repo.root, env={
        "RECONCILER_BIND_DN": slapd.admin_dn, "RECONCILER_BIND_PASSWORD": slapd.admin_password})
    assert_refused(broken, f"cn={LOCK_CN},{MAILBOX_BASE}", slapd, listener)  # not "broken" either


def test_a_referral_among_the_mailboxes_is_not_followed(repo, run_cli, slapd, listener, client):
    referral(slapd, "mailbox-elsewhere", listener)
    result = cli_run(repo, run_cli, slapd, "apply", "--yes")
    assert result.exit_code == 0, result.output
    assert "uid=annv" in slapd.ldapsearch(MAILBOX_BASE, scope="one", attrs=["1.1"])
    assert bytes(listener.received) == b"" and listener.connections == 0


@pytest.mark.parametrize("name", [STATE_CN, LOCK_CN])
def test_an_entry_of_another_kind_where_a_marker_belongs_is_an_error(slapd, client, name):
    dn = f"cn={name},{MAILBOX_BASE}"
    slapd.ldapadd(f"dn: {dn}\nobjectClass: organizationalRole\ncn: {name}\ndescription: not ours\n")
    settings = DirectorySettings(url=slapd.url.rstrip("/"), base_dn=MAILBOX_BASE, bind_dn=slapd.admin_dn,
                                 bind_password=slapd.admin_password, timeout_seconds=5)
    directory = LdapDirectory(settings, client=client)
    try:
        with pytest.raises(MarkerError, match=f"^{dn}: .*another kind.*organizationalRole"):
            directory.read_marker(name)
        if name == LOCK_CN:
            with pytest.raises(MarkerError):
                directory.acquire_lock("test")
        else:
            with pytest.raises(MarkerError):
                from reconciler.directory.base import Marker

                directory.write_marker(Marker(name, {"commit": "x"}))
    finally:
        directory.close()
    assert "description: not ours" in slapd.ldapsearch(dn, scope="base")


@pytest.mark.parametrize("command", [("plan",), ("apply", "--yes")])
def test_a_base_dn_that_is_a_referral_is_never_followed(repo, run_cli, slapd, listener, client, command):
    """The mailbox search itself meets the referral (not only the reconciler's own entries)."""
    referral(slapd, "elsewhere", listener)
    text = repo.config.read_text(encoding="utf-8").replace(f"base_dn: {MAILBOX_BASE}",
                                                           f"base_dn: cn=elsewhere,{MAILBOX_BASE}")
    repo.config.write_text(text, encoding="utf-8")
    result = cli_run(repo, run_cli, slapd, *command)
    output = result.stdout + result.stderr
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1, output
    assert "Traceback" not in output and slapd.admin_password not in output
    assert bytes(listener.received) == b"" and listener.connections == 0, bytes(listener.received)
