"""The LDAP client interface through ldap3 (pure Python): always installed, the fallback for python-ldap.

Referrals are never chased (``auto_referrals=False``): a referral is an answer, not a redirection
that would take the bind DN and password to another host.
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.operation.search import compile_filter, parse_filter
from pyasn1.codec.ber import encoder as ber_encoder

from reconciler.directory.base import (
    Add,
    Delete,
    DirectoryError,
    Entry,
    Modify,
    OnDone,
    Operation,
    UnknownOutcome,
)
from reconciler.directory.clients.endpoint import Connection
from reconciler.directory.clients.interface import (
    ASSERTION,
    MANAGE_DSA_IT,
    RESULT_CODES,
    ConnectionLost,
    LdapResultError,
)
from reconciler.i18n import _


def _result_message(conn: ldap3.Connection) -> str:
    result = conn.result or {}
    text = result.get("description") or "error"
    if result.get("message"):
        text += f": {result['message']}"
    return text


def _result_name(conn: ldap3.Connection) -> str:
    code = (conn.result or {}).get("result")
    return RESULT_CODES.get(code, str((conn.result or {}).get("description") or code))


def assertion_control(search_filter: str) -> tuple[str, bool, bytes]:
    node = parse_filter(search_filter, None, True, True, None, False)
    return (ASSERTION, True, ber_encoder.encode(compile_filter(node.elements[0])))


def _controls(manage_dsa_it: bool, assertion: str | None) -> list[tuple[str, bool, Any]] | None:
    controls: list[tuple[str, bool, Any]] = []
    if manage_dsa_it:
        controls.append((MANAGE_DSA_IT, True, None))
    if assertion:
        controls.append(assertion_control(assertion))
    return controls or None


def delete_assertion(op: Delete) -> str | None:
    if op.still_before is None:
        return None
    attribute, value = op.still_before
    return f"({attribute}<={value})"


class Ldap3Client:
    name = "ldap3"

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._conn: ldap3.Connection | None = None

    # -- connecting ------------------------------------------------------------------------------

    def connect(self, strategy: str = ldap3.SYNC) -> ldap3.Connection:
        """An open, bound ldap3 connection, or DirectoryError with one line naming the cause."""
        connection = self.connection
        connection.check()
        settings = connection.settings
        endpoint = connection.endpoint
        tls = (ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=settings.ca_file, version=ssl.PROTOCOL_TLS_CLIENT)
               if connection.encrypted else None)
        server = ldap3.Server(endpoint.host, port=endpoint.port, use_ssl=endpoint.use_ssl, tls=tls,
                              get_info=ldap3.NONE, connect_timeout=settings.timeout_seconds)
        conn = ldap3.Connection(server, user=settings.bind_dn, password=settings.bind_password,
                                client_strategy=strategy, auto_bind=ldap3.AUTO_BIND_NONE,
                                # ldap3's ASYNC receiver thread spins forever on a closed socket when a receive
                                # timeout is set; without one it ends when the connection is unbound.
                                receive_timeout=None if strategy == ldap3.ASYNC
                                else max(1, round(settings.timeout_seconds)),
                                raise_exceptions=False, auto_referrals=False,
                                read_only=False, return_empty_attributes=False)
        where = connection.describe()
        try:
            conn.open()
            if connection.start_tls and not conn.start_tls():
                raise DirectoryError(_("{where}: StartTLS failed: {reason}").format(where=where,
                                                                                     reason=_result_message(conn)))
            if not conn.bind():
                message = _result_message(conn)
                if "invalidCredentials" in message:
                    message = _("invalid credentials (check RECONCILER_BIND_DN and the password)")
                raise DirectoryError(_("{where}: bind as {dn} failed: {reason}").format(
                    where=where, dn=settings.bind_dn, reason=message))
        except ldap_errors.LDAPStartTLSError as err:
            raise DirectoryError(_("{where}: StartTLS failed: {reason}").format(where=where,
                                                                                 reason=_tls_reason(err))) from None
        except ldap_errors.LDAPSocketOpenError as err:
            reason = _tls_reason(err) if "certificate" in str(err).lower() or "ssl" in str(err).lower() else \
                _socket_reason(err)
            raise DirectoryError(_("{where}: cannot connect: {reason}").format(where=where, reason=reason)) from None
        except ldap_errors.LDAPException as err:
            raise DirectoryError(_("{where}: cannot connect: {reason}").format(
                where=where, reason=_socket_reason(err))) from None
        return conn

    @property
    def conn(self) -> ldap3.Connection:
        if self._conn is None:
            self._conn = self.connect()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(ldap_errors.LDAPException):
                self._conn.unbind()
            self._conn = None

    def _lost(self, err: Exception) -> ConnectionLost:
        self._conn = None
        detail = str(err).splitlines()[0] if str(err) else _("connection lost")
        return ConnectionLost(f"{self.connection.describe()}: {type(err).__name__.removeprefix('LDAP')}: {detail}")

    # -- reading ---------------------------------------------------------------------------------

    def paged_search(self, base: str, search_filter: str, attributes: Sequence[str]) -> Iterator[Entry]:
        # A connection of its own: its entries are decoded the reconciler's way (see _decode_entries_only).
        conn = self.connect()
        _decode_entries_only(conn)
        where = self.connection.describe()
        try:
            try:
                results = conn.extend.standard.paged_search(
                    base, search_filter, search_scope=ldap3.LEVEL, attributes=list(attributes),
                    paged_size=self.connection.settings.page_size, generator=True)
                for item in results:
                    if item.get("type") == "searchResEntry":  # a continuation reference is not followed
                        yield item["entry"]
            except ldap_errors.LDAPException as err:
                raise DirectoryError(_("{where}: search failed: {reason}").format(
                    where=where, reason=_socket_reason(err))) from None
            result = conn.result or {}
            if result.get("result") == 32:
                raise DirectoryError(_("{where}: base DN {base} does not exist").format(where=where, base=base))
            if result.get("result") not in (0, None):
                raise DirectoryError(_("{where}: search failed: {reason}").format(
                    where=where, reason=_result_message(conn)))
        finally:
            with contextlib.suppress(ldap_errors.LDAPException):
                conn.unbind()

    def read(self, dn: str, attributes: Sequence[str], *, manage_dsa_it: bool = True) -> Entry | None:
        try:
            conn = self.conn
            conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=list(attributes),
                        controls=_controls(manage_dsa_it, None))
        except ldap_errors.LDAPException as err:
            raise self._lost(err) from None
        code = (conn.result or {}).get("result")
        if code == 32:
            return None
        if code not in (0, None):
            raise LdapResultError(_("{dn}: cannot read: {reason}").format(dn=dn, reason=_result_message(conn)),
                                  _result_name(conn))
        for item in conn.response or []:
            if item.get("type") == "searchResEntry":
                return Entry(item["dn"], {name.lower(): [v.decode("utf-8") for v in values]
                                          for name, values in item["raw_attributes"].items()})
        return None

    # -- single writes -----------------------------------------------------------------------------

    def _check(self, ok: bool, dn: str) -> None:
        if not ok:
            raise LdapResultError(f"{dn}: {_result_message(self.conn)}", _result_name(self.conn))

    def add(self, dn: str, attrs: dict[str, list[str]], *, manage_dsa_it: bool = True) -> None:
        try:
            ok = self.conn.add(dn, attrs.get("objectClass", []), {k: v for k, v in attrs.items() if k != "objectClass"},
                               controls=_controls(manage_dsa_it, None))
        except ldap_errors.LDAPException as err:
            raise self._lost(err) from None
        self._check(ok, dn)

    def modify(self, dn: str, replace: dict[str, list[str]], *, assertion: str | None = None,
               manage_dsa_it: bool = True) -> None:
        try:
            ok = self.conn.modify(dn, {n: [(ldap3.MODIFY_REPLACE, v)] for n, v in replace.items()},
                                  controls=_controls(manage_dsa_it, assertion))
        except ldap_errors.LDAPException as err:
            raise self._lost(err) from None
        self._check(ok, dn)

    def delete(self, dn: str, *, assertion: str | None = None, manage_dsa_it: bool = True) -> None:
        try:
            ok = self.conn.delete(dn, controls=_controls(manage_dsa_it, assertion))
        except ldap_errors.LDAPException as err:
            raise self._lost(err) from None
        self._check(ok, dn)

    # -- pipelined writes --------------------------------------------------------------------------

    def pipelined_write(self, operations: Iterable[Operation], on_done: OnDone, window: int) -> None:
        conn = self.connect(ldap3.ASYNC)
        try:
            pending: deque[tuple[int, Operation, int]] = deque()
            for index, op in enumerate(operations):
                pending.append((index, op, self._submit(conn, op)))
                if len(pending) >= window:
                    self._collect(conn, pending.popleft(), on_done)
            while pending:
                self._collect(conn, pending.popleft(), on_done)
        finally:
            with contextlib.suppress(ldap_errors.LDAPException):
                conn.unbind()

    @staticmethod
    def _submit(conn: ldap3.Connection, op: Operation) -> int:
        try:
            match op:
                case Add(dn, attrs):
                    object_class = attrs.get("objectClass", [])
                    rest = {k: v for k, v in attrs.items() if k != "objectClass"}
                    return int(conn.add(dn, object_class, rest))
                case Modify(dn, replace):
                    return int(conn.modify(dn, {name: [(ldap3.MODIFY_REPLACE, values)]
                                                for name, values in replace.items()}))
                case Delete(dn):
                    return int(conn.delete(dn, controls=_controls(False, delete_assertion(op))))
        except ldap_errors.LDAPException as err:
            raise DirectoryError(f"{op.dn}: {err}") from None
        raise AssertionError(op)

    @staticmethod
    def _collect(conn: ldap3.Connection, item: tuple[int, Operation, int], on_done: OnDone) -> None:
        index, op, message_id = item
        try:
            _response, result = conn.get_response(message_id)
        except ldap_errors.LDAPException as err:
            on_done(index, UnknownOutcome(f"{op.dn}: {err}"))
            return
        if result.get("result") == 0:
            on_done(index, None)
        else:
            text = result.get("description", "error")
            if result.get("message"):
                text += f": {result['message']}"
            on_done(index, f"{op.dn}: {text}")


def _plain(err: Exception) -> str:
    """ldap3 nests the text of an ssl or socket error in tuple reprs: keep the message itself, on one line."""
    text = str(err).splitlines()[0] if str(err) else ""
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text).strip("()[]\"', ")
    text = re.sub(r"^(socket ssl wrapping error|wrap socket error|socket connection error while opening):\s*", "",
                  text)
    return re.sub(r"\[(SSL|X509): [A-Z0-9_]+\]\s*", "", text) or type(err).__name__


def _tls_reason(err: Exception) -> str:
    text = str(err)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        if "mismatch" in text:
            return _("the server's certificate is not issued for the host name in the url")
        if "expired" in text:
            return _("the server's certificate has expired")
        return _("the server's certificate is not trusted (set directory.ca_file or RECONCILER_CA_FILE)")
    if any(code in text for code in ("UNEXPECTED_EOF", "WRONG_VERSION_NUMBER", "EOF occurred", "RECORD_LAYER")):
        return _("TLS handshake failed: the port does not speak TLS (is it the server's ldaps:// port?)")
    if "startTLS failed" in text:
        return _("the server does not offer StartTLS (use ldaps:// if it has a TLS port)")
    return _("TLS handshake failed: {reason}").format(reason=_plain(err))


def _socket_reason(err: Exception) -> str:
    text = str(err).lower()
    if "refused" in text:
        return _("connection refused (is the server running and the url right?)")
    if "timed out" in text or isinstance(err, ldap_errors.LDAPResponseTimeoutError):
        return _("connection timed out")
    if isinstance(err, ldap_errors.LDAPSessionTerminatedByServerError):
        return _("the server closed the connection (is it a TLS port that needs ldaps://?)")
    if "name or service not known" in text or "getaddrinfo" in text or "no address found" in text:
        return _("the host name does not resolve")
    return _plain(err)


def _decode_entries_only(conn: ldap3.Connection) -> None:
    """Make ``conn`` turn each search entry straight into an ``Entry``, from the BER ldap3 decoded.

    ldap3 builds two dicts for every entry: ``raw_attributes`` and ``attributes`` (values formatted,
    names checked), both case-insensitive dicts, and then scans them for ranged attributes. The
    reconciler reads neither: on 100,000 entries that was a seventh of the read. Other responses
    (bind, the paged search's done message and its cookie) are decoded by ldap3 as before.
    """
    strategy = conn.strategy
    decode = strategy.decode_response_fast

    def decode_fast(message: dict[str, Any]) -> dict[str, Any]:
        if message["protocolOp"] != 4:  # not a searchResEntry
            return decode(message)
        dn, attributes = message["payload"][0][3], message["payload"][1][3]
        return {"type": "searchResEntry", "entry": Entry(str(dn, "utf-8"), {
            str(attribute[3][0][3], "utf-8").lower(): [str(value[3], "utf-8") for value in attribute[3][1][3]]
            for attribute in attributes})}

    strategy.decode_response_fast = decode_fast
