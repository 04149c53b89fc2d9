"""Directory faults, end to end through the CLI against a real slapd and the embedded LDIF file.

Every fault (server down, wrong password or bind DN, a base DN that does not exist, an untrusted
certificate, a live entry the profile cannot read, missing credentials, a clear-text bind to a remote
host, an unwritable or corrupt LDIF file) must end with exactly one line ``error: ...`` on stderr that
names the problem and the server or file, exit code 1, no traceback, no password anywhere in the
output, and the directory exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ldap3.strategy.base import BaseStrategy
from support.slapd import MAILBOX_BASE, SUFFIX, Slapd, start_slapd

from reconciler.directory.base import DirectoryError
from reconciler.directory.ldapserver import LdapDirectory, clear_text_refusal, parse_url, uses_start_tls
from reconciler.settings import DirectorySettings

WRONG_PASSWORD = "Sai-mat-khau-7Qx2pZ"
ANNV = "annv@quangngai.gov.vn"
BINHTT = "binhtt@quangngai.gov.vn"
ENV_NAMES = ("RECONCILER_LDAP_URL", "RECONCILER_BIND_DN", "RECONCILER_BIND_PASSWORD",
             "RECONCILER_BIND_PASSWORD_FILE", "RECONCILER_CA_FILE", "RECONCILER_DEBUG")
COMMANDS = [pytest.param(("plan",), id="plan"), pytest.param(("apply", "--yes"), id="apply"),
            pytest.param(("import", "--out-dir", "imported"), id="import")]


def unit_file(*mailboxes: tuple[str, str]) -> str:
    lines = ["unit:", "  id: so-tttt", "  name: Sở Thông tin và Truyền thông", "mailboxes:"]
    for address, status in mailboxes:
        lines += [f"  - address: {address}", "    name: Nguyễn Văn An", "    kind: personal",
                  f"    owner: {{id: QN-{address.split('@')[0]}, name: Nguyễn Văn An}}", f"    status: {status}"]
    return "\n".join(lines) + "\n"


def configure(repo, url: str, *, base_dn: str = MAILBOX_BASE, ca_file: str | None = None,
              timeout: float | None = None) -> None:
    text = repo.config.read_text(encoding="utf-8")
    head, _, rest = text.partition("directory:\n")
    _, _, tail = rest.partition("policy:\n")
    directory = [f"  url: {url}", f"  base_dn: {base_dn}"]
    if ca_file:
        directory.append(f"  ca_file: {ca_file}")
    if timeout:
        directory.append(f"  timeout_seconds: {timeout}")
    repo.config.write_text(head + "directory:\n" + "\n".join(directory) + "\npolicy:\n" + tail, encoding="utf-8")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_one_error(result, *needles: str, secrets: tuple[str, ...] = (), prefix: str = "error: ") -> str:
    """Exit 1, exactly one `error:` line on stderr holding every needle, nothing on stdout, no secret.

    Problems with the input (a settings file, a password file) are printed like validation problems,
    ``FILE: message``, without the ``error:`` prefix.
    """
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "internal error" not in output, output
    for secret in (*secrets, WRONG_PASSWORD):
        assert secret not in output, "a password reached the output"
    assert result.exit_code == 1, output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith(prefix), line
    for needle in needles:
        assert needle in line, line
    assert result.stdout == "", result.stdout
    return line


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own RECONCILER_* variables must not leak into these tests."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """One slapd with TLS for the module: starting one per test (with its certificates) cost 20 s."""
    started = start_slapd(tmp_path_factory.mktemp("slapd") / "server", tls=True)
    yield started
    started.stop()


@pytest.fixture
def server(tls_server: Slapd) -> Slapd:
    """The module's slapd with TLS (StartTLS on ``url``, and ``ldaps_url``; ``ca_file`` trusts both),
    emptied of mailboxes and markers as if freshly started."""
    assert tls_server.running, "a test stopped the shared server"
    tls_server.clear()
    return tls_server


@pytest.fixture(scope="module")
def wrong_ca(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A CA certificate that did not sign the test server's certificate."""
    folder = tmp_path_factory.mktemp("wrong-ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=some other CA"],
                   cwd=folder, check=True, capture_output=True)
    return str(folder / "ca.pem")


def admin_env(server: Slapd, **overrides: str) -> dict[str, str]:
    return {"RECONCILER_BIND_DN": server.admin_dn, "RECONCILER_BIND_PASSWORD": server.admin_password, **overrides}


def plain_url(server: Slapd) -> str:
    return server.url.rstrip("/")


def ldaps_url(server: Slapd) -> str:
    assert server.ldaps_url
    return server.ldaps_url.rstrip("/")


def snapshot(server: Slapd) -> str:
    """Everything in the database, operational attributes included (they change with every write)."""
    return server.ldapsearch(SUFFIX, attrs=["*", "+"])


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(folder).parts}


@pytest.fixture
def cli(repo, run_cli):
    """Run the CLI in the test repository; apply takes committed declarations only, so commit first."""

    def run(*args: str, env: dict[str, str] | None = None):
        if repo.git.is_dirty(untracked_files=True):
            repo.commit()
        return run_cli(*args, cwd=repo.root, env=env)

    return run


@pytest.fixture
def seeded(repo, server: Slapd, cli) -> Slapd:
    """annv applied to the server; the declarations then ask for a change (disable annv, create binhtt)."""
    configure(repo, plain_url(server))
    repo.write("so-tttt.yaml", unit_file((ANNV, "active")))
    applied = cli("apply", "--yes", env=admin_env(server))
    assert applied.exit_code == 0, applied.output
    repo.write("so-tttt.yaml", unit_file((ANNV, "disabled"), (BINHTT, "active")))
    return server


def run_fault(repo, cli, server: Slapd, command: tuple[str, ...], env: dict[str, str], *needles: str,
              prefix: str = "error: ", secrets: tuple[str, ...] = ()) -> str:
    before = snapshot(server)
    result = cli(*command, env=env)
    line = assert_one_error(result, *needles, secrets=(server.admin_password, *secrets), prefix=prefix)
    assert snapshot(server) == before, "the directory changed"
    assert not (repo.root / "imported").exists()
    return line


# -- the server cannot be reached or refuses us --------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("scheme", ["ldap", "ldaps"])
def test_server_down(repo, seeded, cli, command, scheme):
    port = free_port()
    url = f"{scheme}://127.0.0.1:{port}"
    configure(repo, url, ca_file=seeded.ca_file if scheme == "ldaps" else None)
    line = run_fault(repo, cli, seeded, command, admin_env(seeded), url, "cannot connect", "connection refused")
    assert "ldap3" not in line and "socket" not in line.lower()


def test_server_that_never_answers_times_out(repo, seeded, cli):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel accepts the connection; nobody ever answers
        url = f"ldap://127.0.0.1:{silent.getsockname()[1]}"
        configure(repo, url, timeout=0.3)
        for command in (("plan",), ("apply", "--yes")):
            run_fault(repo, cli, seeded, command, admin_env(seeded), url, "timed out")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("who", ["wrong-password", "wrong-bind-dn"])
def test_bind_refused(repo, seeded, cli, command, who):
    configure(repo, plain_url(seeded))
    if who == "wrong-password":
        env = admin_env(seeded, RECONCILER_BIND_PASSWORD=WRONG_PASSWORD)
        bind_dn = seeded.admin_dn
    else:
        bind_dn = f"cn=nobody,{SUFFIX}"
        env = admin_env(seeded, RECONCILER_BIND_DN=bind_dn)
    run_fault(repo, cli, seeded, command, env, plain_url(seeded), f"bind as {bind_dn} failed",
              "invalid credentials", "RECONCILER_BIND_DN")


def test_wrong_password_from_a_password_file(repo, seeded, cli, tmp_path):
    password_file = tmp_path / "bind.pw"
    password_file.write_text(WRONG_PASSWORD + "\n", encoding="utf-8")
    configure(repo, plain_url(seeded))
    env = {"RECONCILER_BIND_DN": seeded.admin_dn, "RECONCILER_BIND_PASSWORD_FILE": str(password_file)}
    run_fault(repo, cli, seeded, ("apply", "--yes"), env, "invalid credentials")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("base_dn", [f"ou=nowhere,{SUFFIX}", "ou=mailboxes,dc=example,dc=org"])
def test_base_dn_that_does_not_exist(repo, seeded, cli, command, base_dn):
    configure(repo, plain_url(seeded), base_dn=base_dn)
    run_fault(repo, cli, seeded, command, admin_env(seeded), plain_url(seeded),
              f"base DN {base_dn} does not exist")


# -- TLS -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("how", ["ldaps-no-ca", "ldaps-wrong-ca", "ldaps-wrong-ca-env", "starttls-wrong-ca"])
def test_untrusted_certificate(repo, seeded, cli, wrong_ca, command, how):
    url = plain_url(seeded) if how.startswith("starttls") else ldaps_url(seeded)
    env = admin_env(seeded)
    if how == "ldaps-wrong-ca-env":
        configure(repo, url, ca_file=seeded.ca_file)
        env["RECONCILER_CA_FILE"] = wrong_ca  # the environment wins over the settings file
    else:
        configure(repo, url, ca_file=None if how == "ldaps-no-ca" else wrong_ca)
    line = run_fault(repo, cli, seeded, command, env, url, "certificate is not trusted", "RECONCILER_CA_FILE")
    assert ("StartTLS" in line) == how.startswith("starttls")


@pytest.mark.parametrize("how", ["missing", "not-a-certificate"])
@pytest.mark.parametrize("scheme", ["ldaps", "starttls"])
def test_unusable_ca_file(repo, seeded, cli, tmp_path, how, scheme):
    ca_file = tmp_path / "ca.pem"
    if how == "not-a-certificate":
        ca_file.write_text("this is not a PEM certificate\n", encoding="utf-8")
    url = ldaps_url(seeded) if scheme == "ldaps" else plain_url(seeded)
    configure(repo, url, ca_file=str(ca_file))
    for command in (("plan",), ("apply", "--yes")):
        run_fault(repo, cli, seeded, command, admin_env(seeded), str(ca_file),
                  "cannot be read" if how == "missing" else "no PEM certificate")


@pytest.mark.parametrize("how", ["ldaps-to-the-plain-port", "ldap-to-the-tls-port", "starttls-without-tls"])
def test_url_and_port_that_disagree_on_tls(repo, seeded, slapd, cli, how):
    """A url that does not fit the port or the server: named as such, not as an ssl library's complaint."""
    ca_file = seeded.ca_file
    if how == "ldaps-to-the-plain-port":
        url, reason = f"ldaps://127.0.0.1:{seeded.port}", "the port does not speak TLS"
    elif how == "ldap-to-the-tls-port":
        url, reason = f"ldap://127.0.0.1:{seeded.ldaps_port}", "the server closed the connection"
    else:  # the `slapd` fixture has no TLS at all
        url, reason = plain_url(slapd), "the server does not offer StartTLS"
    configure(repo, url, ca_file=ca_file)
    env = admin_env(seeded) if how != "starttls-without-tls" else admin_env(slapd)
    for command in (("plan",), ("apply", "--yes")):
        line = run_fault(repo, cli, seeded, command, env, url, reason, secrets=(slapd.admin_password,))
        assert "_ssl" not in line and "(\'" not in line, line


@pytest.mark.parametrize("how", ["ldaps-settings", "ldaps-env", "starttls-settings", "starttls-env"])
def test_tls_with_the_ca_file_works(repo, server, cli, how):
    url = plain_url(server) if how.startswith("starttls") else ldaps_url(server)
    env = admin_env(server)
    if how.endswith("env"):
        configure(repo, url)
        env["RECONCILER_CA_FILE"] = server.ca_file
    else:
        configure(repo, url, ca_file=server.ca_file)
    repo.write("so-tttt.yaml", unit_file((ANNV, "active"), (BINHTT, "disabled")))
    planned = cli("plan", "--format", "json", env=env)
    assert planned.exit_code == 0, planned.output
    assert '"create": 2' in planned.stdout
    applied = cli("apply", "--yes", env=env)
    assert applied.exit_code == 0, applied.output
    assert "Applied: 2 create (" in applied.stdout
    assert f"mail: {ANNV}" in server.ldapsearch(MAILBOX_BASE, f"(mail={ANNV})", ["mail"], scope="one")
    assert "pwdEndTime:" in server.ldapsearch(MAILBOX_BASE, f"(mail={BINHTT})", ["pwdEndTime"], scope="one")
    again = cli("plan", "--detailed-exitcode", env=env)
    assert again.exit_code == 0, again.output
    assert server.admin_password not in planned.output + applied.output + again.output


# -- live entries the profile cannot read ----------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("mails", [[], ["odd@quangngai.gov.vn", "odd2@quangngai.gov.vn"]], ids=["no-mail", "two-mails"])
def test_live_entry_the_profile_cannot_read_is_reported_and_left_alone(repo, seeded, cli, command, mails):
    """An odd entry no longer stops the run: it is named in the output, the rest goes ahead, and the entry
    itself is not touched."""
    dn = f"uid=odd,{MAILBOX_BASE}"
    lines = [f"dn: {dn}", "objectClass: inetOrgPerson", "uid: odd", "cn: Odd", "sn: Odd",
             *(f"mail: {mail}" for mail in mails)]
    seeded.ldapadd("\n".join(lines) + "\n")
    configure(repo, plain_url(seeded))
    odd_before = seeded.ldapsearch(dn, attrs=["*", "+"], scope="base")
    result = cli(*command, env=admin_env(seeded))
    assert result.exit_code == 0, result.output
    assert dn in result.stdout
    if mails:
        assert "2 'mail' values" in result.stdout
    assert seeded.ldapsearch(dn, attrs=["*", "+"], scope="base") == odd_before
    if command[0] == "apply":  # the rest was applied: annv disabled, binhtt created
        assert "pwdEndTime:" in seeded.ldapsearch(MAILBOX_BASE, f"(mail={ANNV})", ["pwdEndTime"], scope="one")
        assert f"mail: {BINHTT}" in seeded.ldapsearch(MAILBOX_BASE, f"(mail={BINHTT})", ["mail"], scope="one")


# -- credentials and clear text ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("given", ["nothing", "dn-only", "password-only"])
def test_missing_credentials(repo, seeded, cli, command, given):
    configure(repo, plain_url(seeded))
    env = {"nothing": {}, "dn-only": {"RECONCILER_BIND_DN": seeded.admin_dn},
           "password-only": {"RECONCILER_BIND_PASSWORD": seeded.admin_password}}[given]
    run_fault(repo, cli, seeded, command, env, "no directory credentials", "RECONCILER_BIND_DN",
              "RECONCILER_BIND_PASSWORD", "RECONCILER_BIND_PASSWORD_FILE")


def test_unreadable_password_file(repo, seeded, cli, tmp_path):
    configure(repo, plain_url(seeded))
    missing = tmp_path / "missing.pw"
    env = {"RECONCILER_BIND_DN": seeded.admin_dn, "RECONCILER_BIND_PASSWORD_FILE": str(missing)}
    for command in (("plan",), ("apply", "--yes")):
        run_fault(repo, cli, seeded, command, env, str(missing), "RECONCILER_BIND_PASSWORD_FILE", "cannot be read",
                  prefix=str(missing))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record, and stop, every attempt to open a connection: ldap3, python-ldap, plain sockets and DNS."""
    attempts: list[str] = []

    def refuse(what: str):
        def blocked(*args, **kwargs):
            attempts.append(what)
            raise OSError(f"test: {what} must not be called")

        return blocked

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))  # no DNS query either
    monkeypatch.setattr(BaseStrategy, "open", refuse("ldap3 open"))
    with contextlib.suppress(ImportError):
        import ldap  # python-ldap: libldap connects in C, so stop it before it starts

        monkeypatch.setattr(ldap, "initialize", refuse("ldap.initialize"))
    return attempts


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("url", ["ldap://192.0.2.1", "ldap://192.0.2.1:3389", "ldap://ldap.example.invalid"])
def test_clear_text_bind_to_a_remote_host_is_refused_before_connecting(repo, cli, no_network, command, url):
    repo.write("so-tttt.yaml", unit_file((ANNV, "active")))
    before = files_under(repo.root)
    env = {"RECONCILER_LDAP_URL": url, "RECONCILER_BIND_DN": f"cn=admin,{SUFFIX}",
           "RECONCILER_BIND_PASSWORD": WRONG_PASSWORD}
    result = cli(*command, env=env)
    assert_one_error(result, "refusing", "clear text", parse_url(url).host, "ldaps://", "RECONCILER_CA_FILE",
                     "--insecure")
    assert no_network == []
    assert files_under(repo.root) == before


def directory_for(url: str, *, ca_file: str | None = None, insecure: bool = False) -> LdapDirectory:
    settings = DirectorySettings(url=url, base_dn=MAILBOX_BASE, ca_file=ca_file, bind_dn=f"cn=admin,{SUFFIX}",
                                 bind_password=WRONG_PASSWORD)
    return LdapDirectory(settings, insecure=insecure)


@pytest.mark.parametrize(("url", "ca_file", "insecure", "start_tls", "refused"), [
    # loopback: a test server may take a clear-text bind
    ("ldap://127.0.0.1:389", None, False, False, False),
    ("ldap://localhost", None, False, False, False),
    ("ldap://[::1]:389", None, False, False, False),
    ("ldap://127.0.0.1", "/ca.pem", False, True, False),
    # remote: encrypted, or refused unless --insecure
    ("ldap://192.0.2.1", None, False, False, True),
    ("ldap://ldap.quangngai.gov.vn", None, False, False, True),
    ("ldap://[2001:db8::1]", None, False, False, True),
    ("ldap://192.0.2.1", None, True, False, False),
    ("ldap://192.0.2.1", "/ca.pem", False, True, False),
    ("ldap://192.0.2.1", "/ca.pem", True, True, False),
    ("ldaps://192.0.2.1", None, False, False, False),
    ("ldaps://192.0.2.1", None, True, False, False),
    ("ldaps://ldap.quangngai.gov.vn:1636", "/ca.pem", False, False, False),
])
def test_clear_text_decision(url, ca_file, insecure, start_tls, refused):
    """The decision alone, so that --insecure is never tried against a remote address."""
    endpoint = parse_url(url)
    assert uses_start_tls(endpoint, ca_file) is start_tls
    refusal = clear_text_refusal(endpoint, ca_file, insecure)
    assert (refusal is not None) is refused
    if refusal:
        host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
        assert f"ldap://{host}:{endpoint.port}:" in refusal and "--insecure" in refusal


def test_refusal_comes_before_any_connection(no_network, wrong_ca):
    with pytest.raises(DirectoryError, match="refusing to send the bind password in clear text"):
        directory_for("ldap://192.0.2.1")
    # --insecure with a remote address is only constructed here, never used: it would connect.
    insecure = directory_for("ldap://192.0.2.1", insecure=True)
    assert insecure._use_start_tls() is False
    # Even if a caller got hold of a directory and changed its mind afterwards, _connect refuses too.
    insecure.insecure = False
    with pytest.raises(DirectoryError, match="refusing"):
        insecure._connect()
    assert directory_for("ldap://192.0.2.1", ca_file=wrong_ca)._use_start_tls() is True
    assert no_network == []


def test_insecure_allows_a_clear_text_bind_to_loopback_too(repo, server, cli):
    """--insecure changes nothing for a loopback server (tried here, never against a remote one)."""
    configure(repo, plain_url(server))
    repo.write("so-tttt.yaml", unit_file((ANNV, "active")))
    result = cli("apply", "--yes", "--insecure", env=admin_env(server))
    assert result.exit_code == 0, result.output
    assert server.admin_password not in result.output


@pytest.mark.parametrize("url", ["ldap://", "ldap://:389", "ldap://127.0.0.1:99999", "ldap://127.0.0.1:port",
                                 "http://127.0.0.1"])
def test_malformed_url(repo, cli, url):
    env = {"RECONCILER_LDAP_URL": url, "RECONCILER_BIND_DN": f"cn=admin,{SUFFIX}",
           "RECONCILER_BIND_PASSWORD": WRONG_PASSWORD}
    assert_one_error(cli("plan", env=env), url)


# -- the embedded LDIF file ------------------------------------------------------------------------------


def seed_ldif(repo, cli) -> Path:
    repo.write("so-tttt.yaml", unit_file((ANNV, "active")))
    applied = cli("apply", "--yes")
    assert applied.exit_code == 0, applied.output
    repo.write("so-tttt.yaml", unit_file((ANNV, "disabled"), (BINHTT, "active")))
    return repo.root / "var" / "directory.ldif"


@contextlib.contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make files and folders unwritable even for root: chattr +i as root, chmod otherwise."""
    as_root = os.geteuid() == 0
    modes = {path: path.stat().st_mode for path in paths}
    try:
        for path in paths:
            if as_root:
                subprocess.run([shutil.which("chattr") or "chattr", "+i", str(path)], check=True,
                               capture_output=True)
            else:
                path.chmod(0o555 if path.is_dir() else 0o444)
        yield
    finally:
        for path in paths:
            if as_root:
                subprocess.run([shutil.which("chattr") or "chattr", "-i", str(path)], check=False,
                               capture_output=True)
            else:
                path.chmod(modes[path])


@pytest.mark.parametrize("what", ["file", "folder"])
def test_ldif_file_that_cannot_be_written(repo, cli, what):
    path = seed_ldif(repo, cli)
    folder = path.parent
    before = files_under(folder)
    with read_only(*([path] if what == "file" else [folder])):
        planned = cli("plan", "--format", "json")
        assert planned.exit_code == 0, planned.output  # reading still works
        result = cli("apply", "--yes")
        assert result.exit_code == 1
        line = result.stderr.strip()
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert line.startswith("error: ") and "Traceback" not in result.output
        assert "var/directory.ldif" in line
        assert ("cannot write the directory file: it is read-only" in line) if what == "file" else \
            ("cannot create the apply lock" in line)
    assert files_under(folder) == before


def test_ldif_file_whose_folder_is_a_file(repo, cli):
    repo.write("so-tttt.yaml", unit_file((ANNV, "active")))
    (repo.root / "var").write_text("not a folder\n", encoding="utf-8")
    before = files_under(repo.root)
    for command in (("plan",), ("apply", "--yes")):
        result = cli(*command)
        assert_one_error(result, "var/directory.ldif", "is not a folder")
    assert files_under(repo.root) == before


def test_ldif_path_that_is_a_folder(repo, cli):
    repo.write("so-tttt.yaml", unit_file((ANNV, "active")))
    (repo.root / "var" / "directory.ldif").mkdir(parents=True)
    for command in (("plan",), ("apply", "--yes"), ("import", "--out-dir", "imported")):
        assert_one_error(cli(*command), "var/directory.ldif", "is a folder")


CORRUPT = {
    "not-ldif": b"this is not LDIF at all\n",
    "no-dn": b"objectClass: inetOrgPerson\nmail: annv@quangngai.gov.vn\n\n",
    "bad-base64": b"dn: uid=annv,ou=mailboxes,dc=quangngai,dc=gov,dc=vn\nmail:: !!!not-base64\n\n",
    "bad-dn": b"dn: not a dn\nmail: annv@quangngai.gov.vn\n\n",
    "binary": b"\x00\x01\x02\xff\xfe\xfd garbage",
    "second-entry": b"dn: uid=a,ou=mailboxes,dc=quangngai,dc=gov,dc=vn\nmail: a@quangngai.gov.vn\n\ngarbage\n",
    "two-dns": b"dn: uid=a,ou=mailboxes,dc=quangngai,dc=gov,dc=vn\ndn: uid=b,ou=mailboxes,dc=quangngai,dc=gov,dc=vn\n",
}


@pytest.mark.parametrize("content", CORRUPT.values(), ids=CORRUPT.keys())
def test_corrupt_ldif_file(repo, cli, content):
    path = seed_ldif(repo, cli)
    path.write_bytes(content)
    before = files_under(path.parent)
    for command in (("plan",), ("apply", "--yes"), ("import", "--out-dir", "imported")):
        line = assert_one_error(cli(*command), "var/directory.ldif", "not a valid LDIF file")
        assert "line " in line or "not UTF-8" in line, line
        assert "codec" not in line and "Error" not in line, line
    assert files_under(path.parent) == before
    assert not (repo.root / "imported").exists()
