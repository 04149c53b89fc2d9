"""A real, throwaway OpenLDAP server for tests (no mocks).

``start_slapd(workdir)`` builds a cn=config directory with ``slapadd -n0``, starts Debian's slapd
(2.5) on a free loopback port and loads the base entries with ``ldapadd`` (so that overlays see
them). ``Slapd.stop()`` ends it. A start takes 0.06-0.15 s (median 0.09 s; 0.11 s with ``tls=True``,
which also creates a throwaway CA and a server certificate with the ``openssl`` CLI).

Layout under ``workdir``::

    config.ldif       the cn=config LDIF fed to slapadd -n0
    admin.pw          the rootdn password (mode 0600), passed to ldap tools with -y, never on argv
    slapd.log         slapd's stdout/stderr (in the foreground with -d none: errors only)
    slapd.d/          cn=config                      \
    data/             the mdb database                } owned by nobody:nogroup when run as root
    run/              slapd.pid, slapd.args          /
    tls/              ca.pem (the test CA), server.pem, server.key (tls=True only)

When the tests run as root, slapd is started through ``setpriv`` as ``nobody:nogroup``. pytest's
``tmp_path`` lives below ``/tmp/pytest-of-root`` (mode 0700), which ``nobody`` may not traverse, so
slapd is started with ``workdir`` as its current directory and every path in its configuration is
relative to it: path lookups begin at the already-open cwd, and the parents are never traversed.
Nothing outside ``workdir`` has its permissions changed.

Configuration: modules back_mdb and ppolicy; schemas core, cosine, inetorgperson, misc
(inetLocalMailRecipient: mailLocalAddress, mailRoutingAddress) and namedobject (for the policy
entry); one mdb database for ``dc=quangngai,dc=gov,dc=vn`` with ``olcLastBind: TRUE``, eq indexes
on objectClass, uid, mail and mailLocalAddress, a 1 GiB map size (a sparse file; the mdb default of
10 MiB is too small for bulk tests) and no fsync; the ppolicy overlay with ``olcPPolicyDefault:
cn=default,ou=policies,<suffix>`` and ``olcPPolicyHashCleartext: TRUE``. ACLs: userPassword is
writable by self, usable for auth by anonymous, managed by the admin; everything else is managed by
the admin and readable by authenticated users; anonymous reads only the rootDSE and the subschema.
(shadowLastChange is not in the ACL: it is defined by the nis schema, which is not loaded, and
slapd rejects an ACL naming an unknown attribute.) The size limit is slapd's default of 500 entries
for everyone but the rootdn, which has no limits.

The policy entry ``cn=default,ou=policies,<suffix>`` (namedObject + pwdPolicy) has pwdAttribute
userPassword, pwdMustChange TRUE, pwdAllowUserChange TRUE, pwdLockout FALSE, pwdMaxFailure 0.

Facts verified by experiment against slapd 2.5.13+dfsg-5 (Debian 12) with this configuration;
``tests/test_slapd_fixture.py`` re-checks the ones the product relies on:

- An entry with objectClass inetOrgPerson + inetLocalMailRecipient and a userPassword, added by the
  rootdn with ldapadd, can bind with a simple bind. ppolicy stores the cleartext as {SSHA}. The add
  does NOT set pwdReset, even though the policy has pwdMustChange TRUE.
- ``pwdEndTime`` (operational, from the ppolicy module) can be added, replaced and deleted by the
  rootdn with plain ``ldapmodify``; GeneralizedTime with fractions or offsets is accepted. It is
  returned when asked for by name or with ``+``, never with ``*``. The user cannot remove it
  (insufficientAccessRights), so it cannot re-enable itself.
- With ``pwdEndTime`` in the past the entry cannot bind: result 49 invalidCredentials, empty
  message, indistinguishable from a wrong password. A pwdEndTime in the future does not stop binds.
- After the rootdn then replaces userPassword it still cannot bind with the new password: a password
  change does not touch pwdEndTime. After the rootdn deletes pwdEndTime it binds again.
- After a successful simple bind the entry has ``pwdLastSuccess`` (operational, returned with ``+``
  or by name), because of ``olcLastBind: TRUE``; a later bind updates it.
- When the rootdn replaces userPassword, ppolicy (pwdMustChange TRUE) adds ``pwdReset: TRUE`` and
  ``pwdChangedTime``. With ``pwdReset: TRUE`` (added by ppolicy or explicitly by the rootdn) a simple
  bind still SUCCEEDS (result 0; with the ppolicy request control the response carries error
  changeAfterReset) and WhoAmI still answers, but a search on that connection is refused with
  result 50 insufficientAccessRights, "Operations are restricted to bind/unbind/abandon/StartTLS/
  modify password". A bind-only check (e.g. dovecot auth_bind) therefore lets the user in. The
  user's own password change (RFC 3062 password modify) clears pwdReset and lifts the restriction.
- ``pwdAccountLockedTime: 000001010000Z`` has no effect at all while the policy has pwdLockout
  FALSE (as here); with pwdLockout TRUE it blocks binds and is removed by the rootdn's next
  userPassword replace (so it is no durable "disabled" marker, unlike pwdEndTime).
- With ``-d none`` slapd prints startup errors and ppolicy warnings only; adding the base entries
  before the policy entry logs "policy subentry ... missing or invalid", which is harmless.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import ldap3

__all__ = ["Slapd", "SlapdError", "start_slapd"]

SUFFIX = "dc=quangngai,dc=gov,dc=vn"
MAILBOX_BASE = f"ou=mailboxes,{SUFFIX}"
POLICY_BASE = f"ou=policies,{SUFFIX}"
DEFAULT_POLICY = f"cn=default,{POLICY_BASE}"
ADMIN_DN = f"cn=admin,{SUFFIX}"

MODULE_PATH = "/usr/lib/ldap"
SCHEMA_DIR = "/etc/ldap/schema"
SCHEMAS = ("core", "cosine", "inetorgperson", "misc", "namedobject")
START_TIMEOUT = 15.0
TOOL_TIMEOUT = 60.0

# Whom slapd runs as when the tests run as root (through setpriv).
_RUN_AS = ("nobody", "nogroup")

# Every started instance that has not been stopped yet, stopped at interpreter exit at the latest.
_LIVE: dict[int, Slapd] = {}


class SlapdError(RuntimeError):
    """slapd could not be set up or started, or an LDAP client tool failed."""


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if found is None:
        raise SlapdError(f"{name} not found: install slapd, ldap-utils, openssl (scripts/install-test-deps)")
    return found


def _tool_env() -> dict[str, str]:
    # Keep ~/.ldaprc, /etc/ldap/ldap.conf and LDAP* variables of the caller out of the tools.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDAP")}
    env["LDAPNOINIT"] = "1"
    return env


def _run(argv: list[str], *, input: str | None = None, cwd: Path | None = None, what: str = "") -> str:
    try:
        proc = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=_tool_env(),
            timeout=TOOL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SlapdError(f"{what or argv[0]} timed out after {TOOL_TIMEOUT:.0f} s") from exc
    if proc.returncode != 0:
        raise SlapdError(
            f"{what or Path(argv[0]).name} failed (exit {proc.returncode}): {argv!r}\n"
            f"stderr:\n{proc.stderr.strip()}\nstdout:\n{proc.stdout.strip()}"
        )
    return proc.stdout


@dataclass
class Slapd:
    """A running throwaway slapd. All tool methods bind as the rootdn ``admin_dn``.

    ``url``/``ldaps_url`` end in ``/`` (RFC 4516 form, as slapd -h and the ldap tools take them);
    ldap3 2.9.1 rejects that trailing slash ("port must be an integer"), so ldap3 callers should
    use ``ldap3.Server(host, port=...)`` or strip the slash.
    """

    url: str
    ldaps_url: str | None
    ca_file: str | None
    admin_password: str = field(repr=False)
    pid: int
    workdir: Path
    port: int
    ldaps_port: int | None
    host: str = "127.0.0.1"
    suffix: str = SUFFIX
    mailbox_base: str = MAILBOX_BASE
    admin_dn: str = ADMIN_DN
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    #: the command that started slapd (for ``offline_add``)
    _argv: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def password_file(self) -> Path:
        """The rootdn password in a 0600 file, for ``-y``."""
        return self.workdir / "admin.pw"

    @property
    def log_file(self) -> Path:
        return self.workdir / "slapd.log"

    def _admin_args(self) -> list[str]:
        return ["-x", "-H", self.url, "-D", self.admin_dn, "-y", str(self.password_file)]

    def ldapadd(self, ldif: str, *, manage_dsa_it: bool = False) -> None:
        """Add the entries of ``ldif`` with the real ``ldapadd`` as the rootdn; raise on failure.
        ``manage_dsa_it`` (ldapadd -M) is needed to add a ``referral`` object."""
        _run([_tool("ldapadd"), *(["-M"] if manage_dsa_it else []), *self._admin_args()], input=ldif,
             what="ldapadd")

    def ldapmodify(self, ldif: str) -> None:
        """Apply ``ldif`` (changetype records) with the real ``ldapmodify`` as the rootdn."""
        _run([_tool("ldapmodify"), *self._admin_args()], input=ldif, what="ldapmodify")

    def ldapsearch(
        self,
        base: str,
        filter: str = "(objectClass=*)",
        attrs: list[str] | None = None,
        scope: str = "sub",
    ) -> str:
        """Search as the rootdn, return ``ldapsearch -LLL`` LDIF text (unwrapped lines).

        ``attrs`` as for ldapsearch: None or [] means all user attributes, ``["+"]`` adds the
        operational ones, ``["*", "+"]`` both.
        """
        argv = [_tool("ldapsearch"), *self._admin_args(), "-LLL", "-o", "ldif_wrap=no"]
        argv += ["-b", base, "-s", scope, filter, *(attrs or [])]
        return _run(argv, what="ldapsearch")

    def clear(self, base: str | None = None) -> None:
        """Delete every entry one level under ``base`` (default: the mailbox base), markers included,
        so that tests sharing one server each start from the freshly started state."""
        base = base or MAILBOX_BASE
        dns = [line[4:] for line in self.ldapsearch(base, attrs=["1.1"], scope="one").splitlines()
               if line.startswith("dn: ")]
        if dns:
            self.ldapmodify("".join(f"dn: {dn}\nchangetype: delete\n\n" for dn in dns))

    def can_bind(self, dn: str, password: str) -> bool:
        """A real simple bind (ldap3, in process: the password is on no command line).

        False for any bind result but success (invalidCredentials for a wrong password and for a
        disabled entry alike); connection failures raise.
        """
        server = ldap3.Server(self.host, port=self.port, get_info=ldap3.NONE, connect_timeout=5)
        conn = ldap3.Connection(server, user=dn, password=password, receive_timeout=10)
        try:
            return bool(conn.bind())
        finally:
            conn.unbind()

    @property
    def running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM slapd by pid, wait for it, SIGKILL if it does not exit in ``timeout`` s."""
        _LIVE.pop(id(self), None)
        if self._proc is None:
            _stop_pid(self.pid, timeout)
            return
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self._proc.wait(timeout)

    def offline_add(self, ldif: str, timeout: float = START_TIMEOUT) -> None:
        """Stop slapd, add ``ldif`` to its database with ``slapadd``, and start it again on the same port.

        slapadd bypasses overlays and the no-user-modification rule, as restoring a backup does: this is
        how a test gets entries with a history (a ``pwdLastSuccess`` from months ago) that no client
        operation can write. Everything else should go through ``ldapadd``.
        """
        self.stop()
        (self.workdir / "offline.ldif").write_text(ldif, encoding="utf-8")
        _run([_tool("slapadd"), "-b", self.suffix, "-F", "slapd.d", "-l", "offline.ldif"], cwd=self.workdir,
             what="slapadd")
        if os.geteuid() == 0:
            import grp
            import pwd

            _chown_tree(self.workdir / "data", pwd.getpwnam(_RUN_AS[0]).pw_uid, grp.getgrnam(_RUN_AS[1]).gr_gid)
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(self._argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self._proc.pid
        _LIVE[id(self)] = self
        _wait_ready(self._proc, self.port, self.url, self.log_file, timeout)
    def kill(self) -> None:
        """SIGKILL slapd, as a crash would end it (its data stays in the workdir)."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._proc.wait(10)

    def start_again(self, timeout: float = START_TIMEOUT) -> None:
        """Start the stopped or killed slapd again on the same port with the same data."""
        assert self._argv and (self._proc is None or self._proc.poll() is not None), "still running"
        deadline = time.monotonic() + timeout
        while True:  # the port may linger for a moment after a kill
            with self.log_file.open("ab") as log:
                self._proc = subprocess.Popen(self._argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True)
            self.pid = self._proc.pid
            _LIVE[id(self)] = self
            try:
                _wait_ready(self._proc, self.port, self.url, self.log_file, max(1.0, deadline - time.monotonic()))
                return
            except SlapdError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def log(self) -> str:
        """What slapd printed so far."""
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _stop_pid(pid: int, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE.values()):
        with contextlib.suppress(Exception):
            server.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hash_password(workdir: Path, password_file: Path) -> str:
    # slappasswd -T reads the secret from a file, so it never appears on a command line.
    return _run([_tool("slappasswd"), "-h", "{SSHA}", "-T", str(password_file)], cwd=workdir).strip()


def _make_tls(tls_dir: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost, with the openssl CLI."""
    openssl = _tool("openssl")
    tls_dir.mkdir()
    ext = tls_dir / "server.ext"
    ext.write_text(
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
    )
    ec_key = "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out"
    for command in (
        f"{ec_key} ca.key",
        "req -x509 -new -key ca.key -sha256 -days 2 -out ca.pem -subj '/O=reconciler tests/CN=test CA'"
        " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
        f"{ec_key} server.key",
        "req -new -key server.key -subj '/O=reconciler tests/CN=localhost' -out server.csr",
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -sha256"
        " -extfile server.ext -out server.pem",
    ):
        args = shlex.split(command)
        _run([openssl, *args], cwd=tls_dir, what=f"openssl {args[0]}")
    (tls_dir / "ca.key").unlink()  # nothing else will ever be signed by this CA


def _config_ldif(root_pw_hash: str, tls: bool, durable: bool = False) -> str:
    """cn=config for slapadd -n0. All paths are relative to slapd's cwd, the workdir."""
    tls_attrs = (
        "olcTLSCACertificateFile: tls/ca.pem\n"
        "olcTLSCertificateFile: tls/server.pem\n"
        "olcTLSCertificateKeyFile: tls/server.key\n"
        "olcTLSVerifyClient: never\n"
        if tls
        else ""
    )
    includes = "".join(f"include: file://{SCHEMA_DIR}/{name}.ldif\n\n" for name in SCHEMAS)
    return f"""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: run/slapd.pid
olcArgsFile: run/slapd.args
olcLogLevel: none
{tls_attrs}
dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {MODULE_PATH}
olcModuleLoad: back_mdb
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{includes}\
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcAccess: {{0}}to dn.base="" by * read
olcAccess: {{1}}to dn.base="cn=Subschema" by * read

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {SUFFIX}
olcRootDN: {ADMIN_DN}
olcRootPW: {root_pw_hash}
olcDbDirectory: data
olcDbMaxSize: 1073741824
olcDbNoSync: {'FALSE' if durable else 'TRUE'}
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: mail eq
olcDbIndex: mailLocalAddress eq
olcLastBind: TRUE
olcAccess: {{0}}to attrs=userPassword by dn.exact="{ADMIN_DN}" manage by self write
  by anonymous auth by * none
olcAccess: {{1}}to * by dn.exact="{ADMIN_DN}" manage by users read by * none

dn: olcOverlay={{0}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{0}}ppolicy
olcPPolicyDefault: {DEFAULT_POLICY}
olcPPolicyHashCleartext: TRUE
olcPPolicyUseLockout: FALSE
"""


def _base_ldif() -> str:
    return f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: quangngai
o: Quang Ngai

dn: {MAILBOX_BASE}
objectClass: organizationalUnit
ou: mailboxes

dn: {POLICY_BASE}
objectClass: organizationalUnit
ou: policies

dn: {DEFAULT_POLICY}
objectClass: namedObject
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMustChange: TRUE
pwdAllowUserChange: TRUE
pwdLockout: FALSE
pwdMaxFailure: 0
"""


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [*dirnames, *filenames]:
            os.chown(os.path.join(dirpath, name), uid, gid)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, url: str, log_file: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SlapdError(
                f"slapd exited with status {proc.returncode} before it was ready\n"
                f"slapd output ({log_file}):\n{log_file.read_text(errors='replace')}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError as exc:
            last_error = f"connect: {exc}"
            time.sleep(0.01)
            continue
        try:
            root_dse = subprocess.run(
                [_tool("ldapsearch"), "-x", "-H", url, "-LLL", "-s", "base", "-b", "", "namingContexts"],
                capture_output=True,
                text=True,
                env=_tool_env(),
                timeout=max(0.5, min(2.0, deadline - time.monotonic())),
                check=False,
            )
        except subprocess.TimeoutExpired:
            last_error = "rootDSE search: no answer"
            continue
        # Our suffix, so that some other server that grabbed the port is not taken for ours.
        if root_dse.returncode == 0 and f"namingContexts: {SUFFIX}" in root_dse.stdout:
            return
        last_error = f"rootDSE search: exit {root_dse.returncode} {root_dse.stderr.strip()}"
        time.sleep(0.01)
    raise SlapdError(
        f"slapd did not become ready on {url} within {timeout:.0f} s (last: {last_error})\n"
        f"slapd output ({log_file}):\n{log_file.read_text(errors='replace')}"
    )


def start_slapd(workdir: Path, *, tls: bool = False, durable: bool = False, timeout: float = START_TIMEOUT) -> Slapd:
    """Configure and start a throwaway slapd in the empty (or missing) directory ``workdir``.

    Returns once it answers an anonymous rootDSE search and the suffix, ``ou=mailboxes``,
    ``ou=policies`` and the default password policy are loaded. With ``tls=True`` the ldap:// port
    also offers StartTLS and a second ldaps:// port is opened; ``ca_file`` verifies both.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if any(workdir.iterdir()):
        raise SlapdError(f"{workdir} is not empty")
    slapd_bin = _tool("slapd")
    slapadd = _tool("slapadd")

    password = secrets.token_urlsafe(24)
    password_file = workdir / "admin.pw"
    password_file.touch(mode=0o600)
    password_file.write_text(password)  # no newline: ldap tools use the whole file for -y

    for sub in ("slapd.d", "data", "run"):
        (workdir / sub).mkdir()
    if tls:
        _make_tls(workdir / "tls")
    config = workdir / "config.ldif"
    config.write_text(_config_ldif(_hash_password(workdir, password_file), tls, durable))
    _run([slapadd, "-n0", "-F", "slapd.d", "-l", "config.ldif"], cwd=workdir, what="slapadd -n0")

    # setpriv --pdeathsig: slapd gets SIGTERM when the process (strictly: the thread) that started
    # it dies, so even a killed pytest leaves no slapd behind. As root it also drops to nobody.
    setpriv = [_tool("setpriv"), "--pdeathsig=TERM"]
    if os.geteuid() == 0:
        import grp
        import pwd

        user, group = _RUN_AS
        uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
        for sub in ("slapd.d", "data", "run", "tls"):
            if (workdir / sub).exists():
                _chown_tree(workdir / sub, uid, gid)
        # The workdir itself and admin.pw stay root's; slapd needs neither.
        setpriv += [f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]

    log_file = workdir / "slapd.log"
    last_error: SlapdError | None = None
    for _attempt in range(3):  # a free port can be taken between probing and slapd's bind
        port = _free_port()
        ldaps_port = _free_port() if tls else None
        url = f"ldap://127.0.0.1:{port}/"
        ldaps_url = f"ldaps://127.0.0.1:{ldaps_port}/" if tls else None
        urls = " ".join(u for u in (url, ldaps_url) if u)
        log_offset = log_file.stat().st_size if log_file.exists() else 0
        argv = [*setpriv, "--", slapd_bin, "-d", "none", "-h", urls, "-F", "slapd.d"]
        with log_file.open("ab") as log:
            proc = subprocess.Popen(
                argv,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal is not slapd's business
            )
        server = Slapd(
            url=url,
            ldaps_url=ldaps_url,
            ca_file=str(workdir / "tls" / "ca.pem") if tls else None,
            admin_password=password,
            pid=proc.pid,
            workdir=workdir,
            port=port,
            ldaps_port=ldaps_port,
            _proc=proc,
            _argv=argv,
        )
        _LIVE[id(server)] = server
        try:
            _wait_ready(proc, port, url, log_file, timeout)
        except SlapdError as exc:
            server.stop()
            last_error = exc
            if b"Address already in use" in log_file.read_bytes()[log_offset:]:
                continue
            raise
        try:
            server.ldapadd(_base_ldif())
        except BaseException:
            server.stop()
            raise
        return server
    assert last_error is not None
    raise last_error
