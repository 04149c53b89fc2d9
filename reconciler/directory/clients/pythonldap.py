"""The LDAP client interface through python-ldap, which wraps OpenLDAP's C client library (libldap).

ldap3 encodes and decodes BER in pure Python (pyasn1): about 6,000 entries/s read, and a write
costs more client CPU than slapd spends on it. libldap does both in C, so a read of 100,000
mailboxes takes about as long as ``ldapsearch`` itself and a batch of adds about as long as
``ldapadd``. python-ldap is optional (the ``fast`` extra; it needs a compiler and libldap's headers
to build): ``LdapDirectory`` uses this client when ``import ldap`` works and falls back to ldap3
otherwise, the way PyYAML falls back from its C loader. Both clients yield the same ``Entry`` values,
report the same outcomes and raise the same one-line ``DirectoryError``s.

Connection rules are the ldap3 client's (clients/endpoint.py): the same endpoint, StartTLS decision,
clear-text refusal, CA file (the system store when none is set), certificate and host name checks,
TLS 1.2 or later, timeout and simple bind. Referrals are never chased (``OPT_REFERRALS`` 0).
"""

from __future__ import annotations

import contextlib
import errno
import ssl
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import ldap
from ldap.controls import LDAPControl, SimplePagedResultsControl
from ldap.controls.libldap import AssertionControl
from ldap.controls.simple import ManageDSAITControl
from ldap3.core.results import RESULT_CODES

from reconciler.directory.base import Add, Delete, DirectoryError, Entry, Modify, OnDone, Operation, UnknownOutcome
from reconciler.directory.clients.endpoint import Connection
from reconciler.directory.clients.interface import ConnectionLost, LdapResultError
from reconciler.i18n import _

#: RFC 8446/5246 version numbers, as OPT_X_TLS_PROTOCOL_MIN takes them
_TLS_1_2 = 0x303


def _text(err: ldap.LDAPError) -> str:
    """'desc: info' of a python-ldap error, one line."""
    details = err.args[0] if err.args and isinstance(err.args[0], dict) else {}
    desc = str(details.get("desc") or type(err).__name__)
    info = str(details.get("info") or "").strip()
    if info and info not in desc:
        desc += f": {info}"
    return desc.splitlines()[0]


def _timed_out(err: ldap.LDAPError) -> bool:
    details = err.args[0] if err.args and isinstance(err.args[0], dict) else {}
    return isinstance(err, ldap.TIMEOUT) or details.get("errno") == errno.ETIMEDOUT


def _diagnosed(connection: Connection, err: ldap.LDAPError, diagnose: Callable[[], None] | None) -> DirectoryError:
    """The one-line reason a connection failed, worded as by the ldap3 client.

    libldap as Debian builds it (GnuTLS) says no more than "Can't contact LDAP server" or
    "Connect error: (unknown error code)" for a refused connection and for an untrusted certificate
    alike. ldap3 names the cause, so on such a failure (never on the normal path) ``diagnose``
    (given by LdapDirectory) connects once to the same endpoint another way to say what went wrong.
    """
    where = connection.describe()
    if _timed_out(err):
        return DirectoryError(_("{where}: cannot connect: {reason}").format(where=where,
                                                                             reason=_("connection timed out")))
    if diagnose is not None:
        try:
            diagnose()
        except DirectoryError as precise:
            return precise
    return DirectoryError(_("{where}: cannot connect: {reason}").format(where=where, reason=_text(err)))


def _default_ca_file() -> str | None:
    """What ldap3 (Python's ssl) trusts when no CA file is set: the system store."""
    paths = ssl.get_default_verify_paths()
    return paths.cafile or paths.openssl_cafile or None


def connect(connection: Connection, diagnose: Callable[[], None] | None = None) -> Any:
    """An open, bound python-ldap connection with the ldap3 client's security rules."""
    connection.check()
    settings = connection.settings
    endpoint = connection.endpoint
    where = connection.describe()
    start_tls = connection.start_tls
    encrypted = connection.encrypted
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    uri = f"{'ldaps' if endpoint.use_ssl else 'ldap'}://{host}:{endpoint.port}"
    try:
        conn = ldap.initialize(uri)
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_DEREF, ldap.DEREF_NEVER)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, float(settings.timeout_seconds))
        conn.set_option(ldap.OPT_TIMEOUT, float(settings.timeout_seconds))
        if encrypted:
            conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
            conn.set_option(ldap.OPT_X_TLS_PROTOCOL_MIN, _TLS_1_2)
            ca_file = settings.ca_file or _default_ca_file()
            if ca_file:
                conn.set_option(ldap.OPT_X_TLS_CACERTFILE, ca_file)
            conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: builds the TLS context from the options above
    except (ldap.LDAPError, ValueError) as err:
        raise DirectoryError(_("{where}: cannot set up the connection: {reason}").format(
            where=where, reason=_text(err))) from None
    if start_tls:
        try:
            conn.start_tls_s()
        except ldap.LDAPError as err:
            _close(conn)
            raise _diagnosed(connection, err, diagnose) from None
    try:
        conn.simple_bind_s(settings.bind_dn, settings.bind_password)
    except ldap.INVALID_CREDENTIALS:
        _close(conn)
        raise DirectoryError(_("{where}: bind as {dn} failed: {reason}").format(
            where=where, dn=settings.bind_dn,
            reason=_("invalid credentials (check RECONCILER_BIND_DN and the password)"))) from None
    except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR, ldap.TIMEOUT) as err:
        _close(conn)
        raise _diagnosed(connection, err, diagnose) from None
    except ldap.LDAPError as err:
        _close(conn)
        raise DirectoryError(_("{where}: bind as {dn} failed: {reason}").format(
            where=where, dn=settings.bind_dn, reason=_text(err))) from None
    return conn


def _close(conn: Any) -> None:
    with contextlib.suppress(ldap.LDAPError):
        conn.unbind_ext_s()


def paged_search(client: PythonLdapClient, base_dn: str, search_filter: str,
                 attributes: Sequence[str]) -> Iterator[Entry]:
    """Entries matching ``search_filter`` one level under ``base_dn``, page by page.

    A page is taken whole (``result3(all=1)``), and the next one is asked for before this one is
    converted, so slapd sends it meanwhile. Taking entries one by one as they arrive (``all=0``)
    cost a Python call per entry and, when the read shares its process with validation, a wait for
    the interpreter lock after each of them: a tenth of plan at 100,000 entries. The timeout is the
    longest wait for one page.
    """
    where = client.connection.describe()
    timeout = float(client.connection.settings.timeout_seconds)
    page_size = client.connection.settings.page_size
    attrlist = list(attributes)
    conn = client.open()
    try:
        control = SimplePagedResultsControl(criticality=False, size=page_size, cookie=b"")
        result3 = conn.result3
        done = ldap.RES_SEARCH_RESULT
        try:
            message_id = conn.search_ext(base_dn, ldap.SCOPE_ONELEVEL, search_filter, attrlist, serverctrls=[control])
            while message_id is not None:
                kind, rdata, _msgid, controls = result3(message_id, all=1, timeout=timeout)
                message_id = None
                if kind == done:
                    cookie = next((c.cookie for c in controls or () if c.controlType == control.controlType), b"")
                    if cookie:  # ask for the next page now: slapd sends it while this one is converted
                        control.cookie = cookie
                        message_id = conn.search_ext(base_dn, ldap.SCOPE_ONELEVEL, search_filter, attrlist,
                                                     serverctrls=[control])
                for dn, attrs in rdata:
                    if dn is not None:  # None: a continuation reference, not followed (as on the ldap3 path)
                        yield Entry(dn, {name.lower(): [value.decode("utf-8") for value in values]
                                         for name, values in attrs.items()})
        except ldap.NO_SUCH_OBJECT:
            raise DirectoryError(_("{where}: base DN {base} does not exist").format(where=where,
                                                                                    base=base_dn)) from None
        except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR) as err:
            raise DirectoryError(_("{where}: search failed: {reason}").format(
                where=where, reason=_("lost the connection ({reason})").format(reason=_text(err)))) from None
        except ldap.TIMEOUT:
            raise DirectoryError(_("{where}: search failed: {reason}").format(
                where=where, reason=_("no answer within {seconds} s").format(seconds=f"{timeout:g}"))) from None
        except ldap.LDAPError as err:
            raise DirectoryError(_("{where}: search failed: {reason}").format(where=where, reason=_text(err))) from None
    finally:
        _close(conn)


# -- writing ---------------------------------------------------------------------------------------


def _error(op: Operation, err: ldap.LDAPError) -> str:
    """'<dn>: <result name>: <server message>', worded as on the ldap3 path (RFC 4511 result names)."""
    details = err.args[0] if err.args and isinstance(err.args[0], dict) else {}
    code = details.get("result")
    text = RESULT_CODES.get(code) if isinstance(code, int) and code >= 0 else None
    text = text or str(details.get("desc") or type(err).__name__)
    info = str(details.get("info") or "").strip()
    if info:
        text += f": {info}"
    return f"{op.dn}: {text.splitlines()[0]}"


def _submit(conn: Any, op: Operation) -> int:
    match op:
        case Add(dn, attrs):
            return int(conn.add_ext(dn, [(name, [v.encode("utf-8") for v in values])
                                         for name, values in attrs.items()]))
        case Modify(dn, replace):
            return int(conn.modify_ext(dn, [(ldap.MOD_REPLACE, name, [v.encode("utf-8") for v in values] or None)
                                            for name, values in replace.items()]))
        case Delete(dn, still_before):
            controls = [AssertionControl(True, f"({still_before[0]}<={still_before[1]})")] if still_before else None
            return int(conn.delete_ext(dn, serverctrls=controls))
    raise AssertionError(op)


def pipelined_write(client: PythonLdapClient, operations: Iterable[Operation], on_done: OnDone,
                    window: int) -> None:
    """Carry out ``operations`` with up to ``window`` requests in flight on one connection.

    ``operations`` may be a generator: it is consumed as the window has room, so building the next
    operations overlaps with slapd carrying out the earlier ones. libldap encodes each request in C
    and keeps early answers until they are asked for, so the outcomes are collected, and reported
    through ``on_done``, in submission order. One refused operation does not stop the others; a lost
    connection fails every operation not yet answered, each with one line.
    """
    where = client.connection.describe()
    timeout = float(client.connection.settings.timeout_seconds)
    conn = client.open()
    pending: deque[tuple[int, Operation, int]] = deque()
    lost: str | None = None

    def collect() -> None:
        nonlocal lost
        index, op, message_id = pending.popleft()
        if message_id < 0:  # never sent: the connection was already lost
            on_done(index, UnknownOutcome(f"{op.dn}: {lost}"))
            return
        try:
            # Once the connection is lost, only answers that already arrived are taken.
            if conn.result3(message_id, all=1, timeout=timeout if lost is None else 0)[0] is None:
                raise ldap.TIMEOUT()
        except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR) as err:
            lost = lost or _("lost the connection to {where} ({reason})").format(where=where, reason=_text(err))
            on_done(index, UnknownOutcome(f"{op.dn}: {lost}"))
        except ldap.TIMEOUT:
            lost = lost or _("no answer from {where} within {seconds} s").format(where=where, seconds=f"{timeout:g}")
            on_done(index, UnknownOutcome(f"{op.dn}: {lost}"))
        except ldap.LDAPError as err:
            on_done(index, _error(op, err))
        else:
            on_done(index, None)

    try:
        for index, op in enumerate(operations):
            message_id = -1
            if lost is None:
                try:
                    message_id = _submit(conn, op)
                except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR) as err:
                    lost = _("lost the connection to {where} ({reason})").format(where=where, reason=_text(err))
                except ldap.LDAPError as err:  # refused before it was sent (e.g. an invalid DN)
                    while pending:
                        collect()
                    on_done(index, _error(op, err))
                    continue
            pending.append((index, op, message_id))
            if len(pending) >= window:
                collect()
        while pending:
            collect()
    finally:
        _close(conn)


def _controls(manage_dsa_it: bool, assertion: str | None) -> list[LDAPControl] | None:
    controls: list[LDAPControl] = []
    if manage_dsa_it:
        controls.append(ManageDSAITControl(criticality=True))
    if assertion:
        controls.append(AssertionControl(True, assertion))
    return controls or None


def _result_name(err: ldap.LDAPError) -> str:
    details = err.args[0] if err.args and isinstance(err.args[0], dict) else {}
    code = details.get("result")
    return str(RESULT_CODES.get(code) or details.get("desc") or type(err).__name__) if isinstance(code, int) \
        else str(details.get("desc") or type(err).__name__)


class PythonLdapClient:
    name = "python-ldap"

    def __init__(self, connection: Connection, *, diagnose: Callable[[], None] | None = None) -> None:
        self.connection = connection
        self.diagnose = diagnose
        self._conn: Any = None

    def open(self) -> Any:
        """A new bound connection (bulk reads and pipelined writes each take their own)."""
        return connect(self.connection, self.diagnose)

    def close(self) -> None:
        if self._conn is not None:
            _close(self._conn)
            self._conn = None

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = self.open()
        return self._conn

    def paged_search(self, base: str, search_filter: str, attributes: Sequence[str]) -> Iterator[Entry]:
        return paged_search(self, base, search_filter, attributes)

    def pipelined_write(self, operations: Iterable[Operation], on_done: OnDone, window: int) -> None:
        pipelined_write(self, operations, on_done, window)

    def _run(self, dn: str, call: Callable[[Any], Any], what: str = "") -> Any:
        timeout = float(self.connection.settings.timeout_seconds)
        try:
            conn = self.conn
            return call(conn)
        except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR, ldap.TIMEOUT) as err:
            self.close()
            reason = _("no answer within {seconds} s").format(seconds=f"{timeout:g}") if isinstance(
                err, ldap.TIMEOUT) else _text(err)
            raise ConnectionLost(self.connection.describe() + ": " + _("lost the connection ({reason})").format(
                reason=reason)) from None
        except ldap.LDAPError as err:
            message = _error(Delete(dn), err)
            if what:
                message = f"{dn}: {what}: {message.removeprefix(dn + ': ')}"
            raise LdapResultError(message, _result_name(err)) from None

    def read(self, dn: str, attributes: Sequence[str], *, manage_dsa_it: bool = True) -> Entry | None:
        timeout = float(self.connection.settings.timeout_seconds)

        def search(conn: Any) -> Any:
            return conn.search_ext_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", list(attributes),
                                     serverctrls=_controls(manage_dsa_it, None), timeout=timeout)

        try:
            found = self._run(dn, search, "cannot read")
        except LdapResultError as err:
            if err.name == "noSuchObject":
                return None
            raise
        for entry_dn, attrs in found or ():
            if entry_dn is not None:
                return Entry(entry_dn, {name.lower(): [v.decode("utf-8") for v in values]
                                        for name, values in attrs.items()})
        return None

    def add(self, dn: str, attrs: dict[str, list[str]], *, manage_dsa_it: bool = True) -> None:
        modlist = [(name, [v.encode("utf-8") for v in values]) for name, values in attrs.items()]
        self._run(dn, lambda conn: conn.add_ext_s(dn, modlist, serverctrls=_controls(manage_dsa_it, None)))

    def modify(self, dn: str, replace: dict[str, list[str]], *, assertion: str | None = None,
               manage_dsa_it: bool = True) -> None:
        modlist = [(ldap.MOD_REPLACE, name, [v.encode("utf-8") for v in values] or None)
                   for name, values in replace.items()]
        self._run(dn, lambda conn: conn.modify_ext_s(dn, modlist, serverctrls=_controls(manage_dsa_it, assertion)))

    def delete(self, dn: str, *, assertion: str | None = None, manage_dsa_it: bool = True) -> None:
        self._run(dn, lambda conn: conn.delete_ext_s(dn, serverctrls=_controls(manage_dsa_it, assertion)))
