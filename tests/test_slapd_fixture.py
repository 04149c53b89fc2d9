"""The throwaway-slapd fixture itself, against a real slapd (no mocks).

These tests also pin the platform facts the product relies on (see tests/support/slapd.py):
a past ``pwdEndTime`` disables an entry, survives a password reset, and deleting it re-enables.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from ldap3.core.exceptions import LDAPSocketOpenError, LDAPStartTLSError
from support import slapd as slapd_module
from support.slapd import Slapd, SlapdError, start_slapd

PAST = "20000101000000Z"
FUTURE = "20991231235959Z"
INSUFFICIENT_ACCESS = 50
INVALID_CREDENTIALS = 49


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    server = start_slapd(tmp_path / "slapd")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tls_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = start_slapd(tmp_path_factory.mktemp("tls") / "slapd", tls=True)
    try:
        yield server
    finally:
        server.stop()


def add_mailbox(server: Slapd, uid: str, password: str) -> str:
    dn = f"uid={uid},{server.mailbox_base}"
    server.ldapadd(
        f"dn: {dn}\n"
        "objectClass: inetOrgPerson\n"
        "objectClass: inetLocalMailRecipient\n"
        f"uid: {uid}\n"
        "cn: Nguyễn Văn An\n"
        "displayName: Nguyễn Văn An\n"
        "sn: Nguyễn\n"
        "givenName: An\n"
        f"mail: {uid}@quangngai.gov.vn\n"
        f"mailLocalAddress: {uid}.alias@quangngai.gov.vn\n"
        f"userPassword: {password}\n"
    )
    return dn


def modify(server: Slapd, dn: str, op: str, attr: str, *values: str) -> None:
    lines = [f"dn: {dn}", "changetype: modify", f"{op}: {attr}", *(f"{attr}: {v}" for v in values)]
    server.ldapmodify("\n".join(lines) + "\n")


def attr_values(ldif: str, attr: str) -> list[str]:
    prefix = f"{attr.lower()}: "
    return [line[len(prefix) :] for line in ldif.splitlines() if line.lower().startswith(prefix)]


def user_connection(server: Slapd, dn: str, password: str) -> ldap3.Connection:
    return ldap3.Connection(
        ldap3.Server(server.host, port=server.port, get_info=ldap3.NONE), user=dn, password=password
    )


def tls_server(server: Slapd, *, ldaps: bool, ca_file: str | None, host: str | None = None) -> ldap3.Server:
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)
    port = server.ldaps_port if ldaps else server.port
    return ldap3.Server(host or server.host, port=port, use_ssl=ldaps, tls=tls, get_info=ldap3.NONE)


# --- the server itself --------------------------------------------------------------------------


def test_starts_with_base_entries_and_policy(slapd: Slapd) -> None:
    assert slapd.running
    assert slapd.url == f"ldap://127.0.0.1:{slapd.port}/"
    assert slapd.ldaps_url is None and slapd.ca_file is None
    dns = attr_values(slapd.ldapsearch(slapd.suffix, attrs=["1.1"]), "dn")
    assert dns == [
        "dc=quangngai,dc=gov,dc=vn",
        "ou=mailboxes,dc=quangngai,dc=gov,dc=vn",
        "ou=policies,dc=quangngai,dc=gov,dc=vn",
        "cn=default,ou=policies,dc=quangngai,dc=gov,dc=vn",
    ]
    policy = slapd.ldapsearch("cn=default,ou=policies," + slapd.suffix, scope="base")
    assert attr_values(policy, "objectClass") == ["namedObject", "pwdPolicy"]
    assert attr_values(policy, "pwdAttribute") == ["userPassword"]
    assert attr_values(policy, "pwdMustChange") == ["TRUE"]
    assert attr_values(policy, "pwdLockout") == ["FALSE"]


def test_anonymous_sees_root_dse_but_not_the_tree(slapd: Slapd) -> None:
    conn = ldap3.Connection(ldap3.Server(slapd.host, port=slapd.port, get_info=ldap3.NONE))
    conn.bind()
    assert conn.search("", "(objectClass=*)", search_scope=ldap3.BASE, attributes=["namingContexts"])
    assert conn.entries[0].namingContexts.values == [slapd.suffix]
    conn.search(slapd.suffix, "(objectClass=*)")
    assert conn.entries == []
    conn.unbind()


def test_admin_password_is_random_and_only_in_a_private_file(slapd: Slapd, tmp_path: Path) -> None:
    assert len(slapd.admin_password) >= 20
    assert slapd.password_file.read_text() == slapd.admin_password
    assert slapd.password_file.stat().st_mode & 0o777 == 0o600
    assert slapd.admin_password not in repr(slapd)
    assert slapd.admin_password.encode() not in Path(f"/proc/{slapd.pid}/cmdline").read_bytes()
    assert slapd.can_bind(slapd.admin_dn, slapd.admin_password)
    assert not slapd.can_bind(slapd.admin_dn, slapd.admin_password + "x")
    other = start_slapd(tmp_path / "other")
    try:
        assert other.admin_password != slapd.admin_password
        assert other.port != slapd.port
    finally:
        other.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="privileges are dropped only when the tests run as root")
def test_runs_as_nobody_when_started_by_root(slapd: Slapd) -> None:
    status = Path(f"/proc/{slapd.pid}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert set(uids) == {"65534"}


def test_stop_ends_the_process_and_frees_the_port(tmp_path: Path) -> None:
    server = start_slapd(tmp_path / "s")
    pid, port = server.pid, server.port
    server.stop()
    assert not server.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    server.stop()  # idempotent


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited; only its parent may not have reaped it


def test_no_slapd_outlives_a_killed_test_process(tmp_path: Path) -> None:
    script = (
        "import os, signal, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from pathlib import Path\n"
        "from support.slapd import start_slapd\n"
        f"server = start_slapd(Path({str(tmp_path / 's')!r}))\n"
        "print(server.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)  # no finalizer, no atexit\n"
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr
    pid = int(child.stdout)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)


def test_start_failure_reports_slapd_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:  # bound, not listening: slapd's bind fails, connects are refused
        taken.bind(("127.0.0.1", 0))
        monkeypatch.setattr(slapd_module, "_free_port", lambda: taken.getsockname()[1])
        with pytest.raises(SlapdError, match="Address already in use") as failure:
            start_slapd(tmp_path / "s")
    assert "exited with status 1" in str(failure.value)


def test_refuses_a_non_empty_workdir(tmp_path: Path) -> None:
    (tmp_path / "leftover").write_text("x")
    with pytest.raises(SlapdError, match="not empty"):
        start_slapd(tmp_path)


def test_tool_failures_raise_with_stderr(slapd: Slapd) -> None:
    with pytest.raises(SlapdError, match="Already exists"):
        slapd.ldapadd(f"dn: {slapd.mailbox_base}\nobjectClass: organizationalUnit\nou: mailboxes\n")
    with pytest.raises(SlapdError, match="No such object"):
        slapd.ldapmodify(f"dn: uid=nobody,{slapd.mailbox_base}\nchangetype: delete\n")
    with pytest.raises(SlapdError, match="Bad search filter"):
        slapd.ldapsearch(slapd.suffix, "(uid=")


# --- binds and the ppolicy facts the product relies on ------------------------------------------


def test_mailbox_entry_binds_and_records_last_success(slapd: Slapd) -> None:
    dn = add_mailbox(slapd, "an.nguyen", "secret-1")
    entry = slapd.ldapsearch(dn, scope="base", attrs=["userPassword", "+"])
    assert attr_values(entry, "pwdLastSuccess") == []
    assert attr_values(entry, "pwdReset") == []  # the initial add by the admin does not set it
    assert not slapd.can_bind(dn, "wrong")
    assert slapd.can_bind(dn, "secret-1")
    last_success = slapd.ldapsearch(dn, scope="base", attrs=["pwdLastSuccess"])
    assert len(attr_values(last_success, "pwdLastSuccess")) == 1
    assert attr_values(slapd.ldapsearch(dn, scope="base", attrs=["+"]), "pwdLastSuccess")
    # the mail attributes of inetLocalMailRecipient are there and indexed for equality
    found = slapd.ldapsearch(slapd.mailbox_base, "(mailLocalAddress=an.nguyen.alias@quangngai.gov.vn)")
    assert attr_values(found, "dn") == [dn]


def test_pwd_end_time_disables_survives_a_reset_and_deleting_it_enables(slapd: Slapd) -> None:
    dn = add_mailbox(slapd, "binh.tran", "secret-1")
    assert slapd.can_bind(dn, "secret-1")

    modify(slapd, dn, "add", "pwdEndTime", PAST)
    assert attr_values(slapd.ldapsearch(dn, scope="base", attrs=["pwdEndTime"]), "pwdEndTime") == [PAST]
    assert attr_values(slapd.ldapsearch(dn, scope="base", attrs=["+"]), "pwdEndTime") == [PAST]
    assert attr_values(slapd.ldapsearch(dn, scope="base", attrs=["*"]), "pwdEndTime") == []
    conn = user_connection(slapd, dn, "secret-1")
    assert not conn.bind()
    assert conn.result["result"] == INVALID_CREDENTIALS  # the same answer as a wrong password

    modify(slapd, dn, "replace", "userPassword", "secret-2")
    assert not slapd.can_bind(dn, "secret-2")
    assert not slapd.can_bind(dn, "secret-1")
    after_reset = slapd.ldapsearch(dn, scope="base", attrs=["+"])
    assert attr_values(after_reset, "pwdEndTime") == [PAST]
    assert attr_values(after_reset, "pwdReset") == ["TRUE"]  # ppolicy adds it: pwdMustChange

    modify(slapd, dn, "delete", "pwdEndTime")
    assert slapd.can_bind(dn, "secret-2")
    assert not slapd.can_bind(dn, "secret-1")


def test_pwd_end_time_in_the_future_does_not_disable(slapd: Slapd) -> None:
    dn = add_mailbox(slapd, "cuong.le", "secret")
    modify(slapd, dn, "add", "pwdEndTime", FUTURE)
    assert slapd.can_bind(dn, "secret")
    modify(slapd, dn, "replace", "pwdEndTime", PAST)
    assert not slapd.can_bind(dn, "secret")


def test_a_user_cannot_remove_its_own_pwd_end_time(slapd: Slapd) -> None:
    dn = add_mailbox(slapd, "dung.pham", "secret")
    modify(slapd, dn, "add", "pwdEndTime", FUTURE)
    conn = user_connection(slapd, dn, "secret")
    assert conn.bind()
    assert not conn.modify(dn, {"pwdEndTime": [(ldap3.MODIFY_DELETE, [])]})
    assert conn.result["result"] == INSUFFICIENT_ACCESS
    conn.unbind()
    assert attr_values(slapd.ldapsearch(dn, scope="base", attrs=["pwdEndTime"]), "pwdEndTime") == [FUTURE]


def test_pwd_reset_bind_succeeds_but_the_session_is_restricted(slapd: Slapd) -> None:
    dn = add_mailbox(slapd, "hoa.vo", "secret-1")
    modify(slapd, dn, "replace", "userPassword", "secret-2")
    modify(slapd, dn, "replace", "pwdReset", "TRUE")
    assert slapd.can_bind(dn, "secret-2")

    conn = user_connection(slapd, dn, "secret-2")
    assert conn.bind()
    assert conn.extend.standard.who_am_i() == f"dn:{dn}"
    assert not conn.search(slapd.mailbox_base, "(uid=*)")
    assert conn.result["result"] == INSUFFICIENT_ACCESS
    assert "restricted" in conn.result["message"]
    # the user's own change lifts the restriction and clears pwdReset
    assert conn.extend.standard.modify_password(dn, "secret-2", "secret-3")
    assert conn.search(slapd.mailbox_base, "(uid=hoa.vo)")
    conn.unbind()
    assert attr_values(slapd.ldapsearch(dn, scope="base", attrs=["pwdReset"]), "pwdReset") == []
    assert slapd.can_bind(dn, "secret-3")


# --- TLS -------------------------------------------------------------------------------------------


def test_tls_instance_has_urls_and_a_ca_file(tls_slapd: Slapd) -> None:
    assert tls_slapd.ldaps_url == f"ldaps://127.0.0.1:{tls_slapd.ldaps_port}/"
    assert tls_slapd.ca_file is not None
    assert Path(tls_slapd.ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert tls_slapd.can_bind(tls_slapd.admin_dn, tls_slapd.admin_password)  # plain ldap:// still works


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_ldaps_verifies_with_the_ca_file(tls_slapd: Slapd, host: str) -> None:
    server = tls_server(tls_slapd, ldaps=True, ca_file=tls_slapd.ca_file, host=host)
    conn = ldap3.Connection(server, user=tls_slapd.admin_dn, password=tls_slapd.admin_password)
    assert conn.bind()
    assert conn.extend.standard.who_am_i() == f"dn:{tls_slapd.admin_dn}"
    conn.unbind()


def test_starttls_verifies_with_the_ca_file(tls_slapd: Slapd) -> None:
    server = tls_server(tls_slapd, ldaps=False, ca_file=tls_slapd.ca_file)
    conn = ldap3.Connection(server, user=tls_slapd.admin_dn, password=tls_slapd.admin_password)
    conn.open()
    assert conn.start_tls()
    assert conn.bind()
    assert conn.extend.standard.who_am_i() == f"dn:{tls_slapd.admin_dn}"
    conn.unbind()


def test_ldaps_fails_to_verify_without_the_ca_file(tls_slapd: Slapd) -> None:
    conn = ldap3.Connection(tls_server(tls_slapd, ldaps=True, ca_file=None))
    with pytest.raises(LDAPSocketOpenError, match="CERTIFICATE_VERIFY_FAILED"):
        conn.open()


def test_starttls_fails_to_verify_without_the_ca_file(tls_slapd: Slapd) -> None:
    conn = ldap3.Connection(tls_server(tls_slapd, ldaps=False, ca_file=None))
    conn.open()
    with pytest.raises(LDAPStartTLSError, match="CERTIFICATE_VERIFY_FAILED"):
        conn.start_tls()


@pytest.mark.parametrize("ldaps", [True, False], ids=["ldaps", "starttls"])
def test_libldap_clients_verify_with_the_ca_file(tls_slapd: Slapd, ldaps: bool) -> None:
    # What Postfix and Dovecot use: OpenLDAP's libldap (GnuTLS on Debian), not Python's ssl.
    assert tls_slapd.ldaps_url is not None and tls_slapd.ca_file is not None
    if ldaps:
        argv = ["ldapwhoami", "-x", "-H", tls_slapd.ldaps_url]
    else:
        argv = ["ldapwhoami", "-x", "-ZZ", "-H", tls_slapd.url]  # -ZZ: StartTLS must succeed
    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "LDAPCONF": "/dev/null",
    }
    run = {"capture_output": True, "text": True, "cwd": "/", "check": False}  # cwd: no ./ldaprc
    ok = subprocess.run(argv, env={**base_env, "LDAPTLS_CACERT": tls_slapd.ca_file}, **run)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "anonymous"
    # the same command without the CA (and no system CA file configured) must not connect
    bad = subprocess.run(argv, env={**base_env, "LDAPTLS_REQCERT": "demand"}, **run)
    assert bad.returncode != 0
    assert "anonymous" not in bad.stdout
