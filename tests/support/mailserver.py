"""Real Dovecot and Postfix lookups against a throwaway slapd, with the reference configs in contrib/.

The mail-server configuration in ``contrib/`` carries ``@@NAME@@`` placeholders (``@@LDAP_URI@@``,
``@@BIND_DN@@``, ...). A deployment fills them in once; these helpers fill them in for a test
(:func:`render`) and run the real software on the result, so the reference configuration is the
tested one. Nothing else is added, except Dovecot's ``local.conf`` (which the reference
``dovecot.conf`` includes last, for site-specific overrides): there the tests move paths and ports
into the test directory and switch off what only slows tests down (see :func:`_local_conf`).

- :func:`service_account` adds the read-only LDAP account that Dovecot and Postfix bind as.
- :func:`start_dovecot` renders ``contrib/dovecot`` into a directory and starts ``dovecot -F`` on a
  free loopback port; :func:`imap_login` tries a login with :mod:`imaplib` (STARTTLS, then LOGIN).
- :func:`postmap_query` (or :meth:`Postfix.query`) looks a key up in one of the ``contrib/postfix``
  maps with ``postmap -q``, exactly as Postfix's smtpd and cleanup would, without a running Postfix.

As root, Dovecot's master runs as root and the mail processes as ``nobody:nogroup``; otherwise every
Dovecot process runs as the current user (Dovecot's unprivileged mode: login and internal users set to
it, no chroots; checked by hand as ``nobody``).

Timings (Debian 12, Dovecot 2.3.19.1, Postfix 3.7.11): Dovecot starts in about 0.1 s (certificate
included) and stops in about 1.0-1.1 s (the master's own shutdown); a successful IMAP login takes
about 0.05 s, a refused one 0.5 s (Dovecot answers failures from a 500 ms timer even with
``auth_failure_delay = 0``); a ``postmap -q`` lookup about 0.02 s, a failing one about 1 s (postmap
sleeps a second before a fatal exit).
"""

from __future__ import annotations

import atexit
import contextlib
import grp
import imaplib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .slapd import Slapd

__all__ = [
    "CONTRIB",
    "MAIL_DOMAIN",
    "POSTFIX_MAPS",
    "Dovecot",
    "MailServerError",
    "Postfix",
    "ServiceAccount",
    "imap_login",
    "ldap_values",
    "postmap_query",
    "render",
    "render_postfix",
    "service_account",
    "start_dovecot",
]

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"
MAIL_DOMAIN = "quangngai.gov.vn"
# Map name -> the file in contrib/postfix.
POSTFIX_MAPS = {
    "virtual-mailbox-maps": "ldap-virtual-mailbox-maps.cf",
    "virtual-alias-maps": "ldap-virtual-alias-maps.cf",
    "virtual-forward-maps": "ldap-virtual-forward-maps.cf",
}
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
TOOL_TIMEOUT = 30.0

_PLACEHOLDER = re.compile(r"@@([A-Z][A-Z0-9_]*)@@")
# Every started Dovecot not stopped yet, stopped at interpreter exit at the latest.
_LIVE: dict[int, Dovecot] = {}


class MailServerError(RuntimeError):
    """Dovecot could not be started, or a postmap lookup failed (as opposed to: not found)."""


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if found is None:
        raise MailServerError(f"{name} not found: install dovecot-imapd dovecot-ldap postfix-ldap")
    return found


# --- Placeholders -----------------------------------------------------------------------------------


def render(text: str, values: Mapping[str, str]) -> str:
    """Replace every ``@@NAME@@`` in ``text`` by ``values[NAME]``.

    Raises KeyError naming the placeholders that ``values`` lacks, and ValueError for a value with a
    line break (it would inject configuration lines). Values that ``text`` does not use are fine.
    """
    missing = sorted(set(_PLACEHOLDER.findall(text)) - values.keys())
    if missing:
        raise KeyError(f"no value for placeholder(s) {', '.join(missing)}")
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"value for @@{name}@@ contains a line break")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=mode)
    path.chmod(mode)
    path.write_text(text, encoding="utf-8")


# --- The LDAP service account -------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceAccount:
    """The account Dovecot and Postfix search with (read-only)."""

    dn: str
    password: str = field(repr=False)


_ACCOUNTS: dict[tuple[str, int], ServiceAccount] = {}


def service_account(slapd: Slapd) -> ServiceAccount:
    """The mail servers' read-only account in ``slapd``, added on first use (as contrib/README.md advises).

    ``cn=mailserver,ou=services,<suffix>`` (applicationProcess + simpleSecurityObject) under its own
    password policy ``cn=services,ou=policies,<suffix>`` with pwdMustChange FALSE: under the default
    policy (pwdMustChange TRUE) an administrator's password change would set pwdReset on the account,
    after which slapd refuses its searches and every login and mail lookup fails. The test slapd lets
    every authenticated user read all but userPassword, which is all the account needs.
    """
    key = (str(slapd.workdir), slapd.pid)
    account = _ACCOUNTS.get(key)
    if account is None:
        account = ServiceAccount(f"cn=mailserver,ou=services,{slapd.suffix}", secrets.token_urlsafe(24))
        slapd.ldapadd(
            f"dn: cn=services,ou=policies,{slapd.suffix}\n"
            "objectClass: namedObject\n"
            "objectClass: pwdPolicy\n"
            "cn: services\n"
            "pwdAttribute: userPassword\n"
            "pwdMustChange: FALSE\n"
            "pwdAllowUserChange: FALSE\n"
            "pwdLockout: FALSE\n"
            "\n"
            f"dn: ou=services,{slapd.suffix}\n"
            "objectClass: organizationalUnit\n"
            "ou: services\n"
            "\n"
            f"dn: {account.dn}\n"
            "objectClass: applicationProcess\n"
            "objectClass: simpleSecurityObject\n"
            "cn: mailserver\n"
            "description: Dovecot and Postfix lookups (read-only)\n"
            f"userPassword: {account.password}\n"
            f"pwdPolicySubentry: cn=services,ou=policies,{slapd.suffix}\n"
        )
        _ACCOUNTS[key] = account
    return account


def ldap_values(slapd: Slapd, account: ServiceAccount | None = None) -> dict[str, str]:
    """The placeholder values that describe the directory (shared by the Dovecot and Postfix configs)."""
    account = account or service_account(slapd)
    return {
        "LDAP_URI": slapd.url,
        "BIND_DN": account.dn,
        "BIND_PW": account.password,
        "BASE_DN": slapd.mailbox_base,
        "MAIL_DOMAINS": MAIL_DOMAIN,
    }


# --- Dovecot ------------------------------------------------------------------------------------------


@dataclass
class Dovecot:
    """A running throwaway Dovecot (IMAP only, on ``host:port``; STARTTLS with ``ca_file``)."""

    host: str
    port: int
    pid: int
    workdir: Path
    config: Path
    log_path: Path
    ca_file: Path
    mail_home: Path
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    _remove_mail_home: bool = field(default=False, repr=False, compare=False)
    #: Dovecot's base_dir, kept short (unix socket paths hold at most 107 bytes): removed by stop()
    _run_dir: Path | None = field(default=None, repr=False, compare=False)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log(self) -> str:
        """Dovecot's log so far (and whatever the master printed before it opened the log)."""
        parts = []
        for path in (self.workdir / "dovecot.out", self.log_path):
            with contextlib.suppress(FileNotFoundError):
                parts.append(path.read_text(errors="replace"))
        return "".join(parts)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the master by PID and wait (about 1 s); SIGKILL its process group if it does not exit in time.

        Also removes the mail homes when they were outside ``workdir``.
        """
        _LIVE.pop(id(self), None)
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)  # the master leads its own session and group
                proc.wait(timeout)
        if self._remove_mail_home:
            shutil.rmtree(self.mail_home, ignore_errors=True)
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE.values()):
        with contextlib.suppress(Exception):
            server.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _make_certificate(tls_dir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost (its own CA), with the openssl CLI."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    cert, key = tls_dir / "cert.pem", tls_dir / "key.pem"
    argv = [
        _tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-sha256",
        "-subj", "/O=reconciler tests/CN=localhost",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-addext", "basicConstraints=critical,CA:TRUE",
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise MailServerError(f"openssl req failed (exit {proc.returncode}): {proc.stderr.strip()}")
    key.chmod(0o600)
    return cert, key


def _local_conf(*, base_dir: Path, state_dir: Path, log_path: Path, port: int, run_as: str | None) -> str:
    """Test-only overrides, appended to the reference dovecot.conf through its ``!include_try local.conf``."""
    text = f"""\
# Written by tests/support/mailserver.py: the reference dovecot.conf moved into a test directory.
base_dir = {base_dir}
state_dir = {state_dir}
log_path = {log_path}
listen = 127.0.0.1
# No LMTP: its socket would be in Postfix's real spool directory, and dovecot-lmtpd is not a test
# dependency (scripts/install-test-deps).
protocols = imap
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
# No 2 s delay for failed logins, and no penalty that makes them slower each time (anvil).
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
    if run_as is not None:  # not root: every process as the current user, no chroots
        text += f"""\
default_login_user = {run_as}
default_internal_user = {run_as}
default_internal_group = {grp.getgrgid(os.getegid()).gr_name}
service imap-login {{
  chroot =
}}
service anvil {{
  chroot =
}}
service ipc {{
  chroot =
}}
service old-stats {{
  chroot =
}}
"""
    return text


def _wait_greeting(proc: subprocess.Popen[bytes], port: int, deadline: float) -> str | None:
    """None once the IMAP greeting ``* OK`` arrived on ``port``, else why not (so far)."""
    last = "no attempt"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"dovecot exited with status {proc.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                sock.settimeout(max(0.1, min(2.0, deadline - time.monotonic())))
                greeting = sock.makefile("rb").readline()
        except OSError as exc:
            last = f"connect: {exc}"
            time.sleep(0.01)
            continue
        if greeting.startswith(b"* OK"):
            return None
        last = f"greeting {greeting[:80]!r}"
        time.sleep(0.01)
    return f"no IMAP greeting within the timeout (last: {last})"


def start_dovecot(
    workdir: Path,
    slapd: Slapd,
    *,
    account: ServiceAccount | None = None,
    timeout: float = START_TIMEOUT,
) -> Dovecot:
    """Render contrib/dovecot into ``workdir`` and start Dovecot (IMAP on a free loopback port).

    Returns once the IMAP greeting arrives. Layout: ``conf/`` (dovecot.conf, dovecot-ldap.conf.ext
    with mode 0600, local.conf), ``state/``,
    ``dovecot.log``, ``dovecot.out`` (the master's stdout/stderr), ``tls/`` (a self-signed
    certificate, also the CA for :func:`imap_login`) and, when not root, ``mail/`` (the homes; as
    root they are in a temporary directory of their own, see below, in ``Dovecot.mail_home``).
    """
    workdir = Path(workdir).resolve()
    conf_dir, state_dir, mail_dir = (workdir / d for d in ("conf", "state", "mail"))
    # Dovecot's sockets live in base_dir, and a unix socket's path holds at most 107 bytes: a pytest
    # tmp_path (deeper still under pytest-xdist) is too long for it. A fresh one is never stale.
    base_dir = Path(tempfile.mkdtemp(prefix="rdv-", dir="/tmp"))
    log_path = workdir / "dovecot.log"
    for directory in (conf_dir, state_dir):
        directory.mkdir(parents=True, exist_ok=True)
    cert, key = _make_certificate(workdir / "tls")

    if os.geteuid() == 0:
        run_as = None
        vmail_user, vmail_group = "nobody", "nogroup"
        # The mail processes run as nobody and open their home by absolute path: pytest's tmp_path
        # (below /tmp/pytest-of-root, mode 0700) is out of their reach ("chdir(home) failed:
        # Permission denied"), so the homes live in a directory of their own in the system temp
        # dir (mode 0700, owned by nobody), which stop() removes.
        mail_dir = Path(tempfile.mkdtemp(prefix="reconciler-dovecot-mail-"))
        os.chown(mail_dir, pwd.getpwnam(vmail_user).pw_uid, grp.getgrnam(vmail_group).gr_gid)
    else:
        run_as = pwd.getpwuid(os.geteuid()).pw_name
        vmail_user, vmail_group = run_as, grp.getgrgid(os.getegid()).gr_name
        mail_dir.mkdir(exist_ok=True)

    values = {
        **ldap_values(slapd, account),
        "CONF_DIR": str(conf_dir),
        "MAIL_HOME": str(mail_dir),
        "VMAIL_USER": vmail_user,
        "VMAIL_GROUP": vmail_group,
        "TLS_CERT": str(cert),
        "TLS_KEY": str(key),
    }
    config = conf_dir / "dovecot.conf"
    _write(config, render((CONTRIB / "dovecot" / "dovecot.conf").read_text(encoding="utf-8"), values))
    ldap_conf = (CONTRIB / "dovecot" / "dovecot-ldap.conf.ext").read_text(encoding="utf-8")
    _write(conf_dir / "dovecot-ldap.conf.ext", render(ldap_conf, values), mode=0o600)

    dovecot_bin = _tool("dovecot")
    failure = "no attempt"
    for _attempt in range(3):  # a free port can be taken between probing and Dovecot's bind
        port = _free_port()
        local = _local_conf(base_dir=base_dir, state_dir=state_dir, log_path=log_path, port=port, run_as=run_as)
        _write(conf_dir / "local.conf", local)
        with (workdir / "dovecot.out").open("ab") as out:
            proc = subprocess.Popen(
                [dovecot_bin, "-F", "-c", str(config)],
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal is not Dovecot's business
            )
        server = Dovecot(
            "127.0.0.1", port, proc.pid, workdir, config, log_path, cert, mail_dir,
            _proc=proc, _remove_mail_home=run_as is None, _run_dir=base_dir,
        )  # fmt: skip
        _LIVE[id(server)] = server
        problem = _wait_greeting(proc, port, time.monotonic() + timeout)
        if problem is None:
            return server
        log = server.log()
        server.stop()
        failure = f"{problem}\n{log}"
        if "Address already in use" not in log:
            break
    if run_as is None:
        shutil.rmtree(mail_dir, ignore_errors=True)
    shutil.rmtree(base_dir, ignore_errors=True)
    raise MailServerError(f"Dovecot did not start ({config}): {failure}")


def imap_login(dovecot: Dovecot, user: str, password: str, *, timeout: float = 10.0) -> bool:
    """Whether ``user`` can log in over IMAP with ``password`` (STARTTLS verified against the test CA).

    False when Dovecot answers NO to LOGIN; anything else (no connection, TLS failure, BYE) raises.
    """
    context = ssl.create_default_context(cafile=str(dovecot.ca_file))
    client = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=timeout)
    try:
        client.starttls(ssl_context=context)
        try:
            client.login(user, password)
        except imaplib.IMAP4.error as exc:
            if "[AUTHENTICATIONFAILED]" in str(exc) or "Authentication failed" in str(exc):
                return False
            raise
        client.noop()  # the post-login imap process really runs (home, mail storage)
        return True
    finally:
        with contextlib.suppress(Exception):
            client.logout()


# --- Postfix lookup tables ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Postfix:
    """The contrib/postfix maps rendered into ``config_dir`` (with an empty main.cf), for ``postmap -q``."""

    config_dir: Path

    def map_file(self, map_name: str) -> Path:
        try:
            return self.config_dir / POSTFIX_MAPS[map_name]
        except KeyError:
            raise ValueError(f"unknown map {map_name!r}; one of {', '.join(POSTFIX_MAPS)}") from None

    def query(self, map_name: str, key: str) -> str | None:
        """What ``postmap -q KEY ldap:MAP`` prints (commas joining several results), or None if not found.

        Raises MailServerError when postmap reports a fatal error (e.g. the LDAP server is unreachable).
        """
        argv = [_tool("postmap"), "-c", str(self.config_dir), "-q", key, f"ldap:{self.map_file(map_name)}"]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False)
        if "postmap: fatal" in proc.stderr or proc.returncode not in (0, 1):
            raise MailServerError(f"postmap failed (exit {proc.returncode}): {argv!r}\n{proc.stderr.strip()}")
        if proc.returncode == 1:
            return None
        return proc.stdout.rstrip("\n")


def render_postfix(config_dir: Path, slapd: Slapd, *, account: ServiceAccount | None = None) -> Postfix:
    """Render every contrib/postfix map for ``slapd`` into ``config_dir``, next to an empty main.cf.

    The files' mtimes are set a minute into the past: postmap re-reads (and waits for) a main.cf or
    map that changed in the last seconds, which made each lookup take about 2 s.
    """
    config_dir = Path(config_dir).resolve()
    values = ldap_values(slapd, account)
    files = [config_dir / "main.cf"]
    _write(files[0], "")
    for name in POSTFIX_MAPS.values():
        text = (CONTRIB / "postfix" / name).read_text(encoding="utf-8")
        files.append(config_dir / name)
        _write(files[-1], render(text, values), mode=0o600)
    past = time.time() - 60
    for path in files:
        os.utime(path, (past, past))
    return Postfix(config_dir)


_POSTFIX: dict[tuple[str, int], Postfix] = {}


def postmap_query(slapd: Slapd, map_name: str, key: str) -> str | None:
    """Look ``key`` up in a contrib/postfix map (see POSTFIX_MAPS) against ``slapd``; None if not found.

    The maps are rendered once per slapd, into ``<slapd.workdir>/postfix``.
    """
    cache_key = (str(slapd.workdir), slapd.pid)
    postfix = _POSTFIX.get(cache_key)
    if postfix is None:
        postfix = _POSTFIX[cache_key] = render_postfix(slapd.workdir / "postfix", slapd)
    return postfix.query(map_name, key)
