"""A real LDAP server through ldap3 (pure Python); python-ldap speeds up bulk reads when installed.

Connections are encrypted: ``ldaps://``, or ``ldap://`` upgraded with StartTLS when a CA file is
set (``directory.ca_file`` or ``RECONCILER_CA_FILE``). A simple bind in clear text is only allowed to
a loopback address (a test server) or with ``--insecure``; anything else is refused from the settings
alone, before a connection is opened.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import itertools
import re
import ssl
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import ldap3
from ldap3.core import exceptions as ldap_errors

from reconciler.directory.base import (
    LOCK_CN,
    Add,
    Delete,
    DirectoryError,
    Entry,
    LockedError,
    LockInfo,
    Marker,
    Modify,
    OnDone,
    Operation,
    now_utc,
)
from reconciler.settings import DirectorySettings

#: how many writes are in flight at once on the pipelined connection. 256 keeps slapd busy (10,000 adds
#: about 10% faster than 64); it must stay well below slapd's olcConnMaxPendingAuth (default 1000),
#: past which slapd drops the connection.
PIPELINE_WINDOW = 256


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    use_ssl: bool

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            return False


def parse_url(url: str) -> Endpoint:
    parsed = urlparse(url)
    if parsed.scheme not in ("ldap", "ldaps") or not parsed.hostname:
        raise DirectoryError(f"directory url '{url}' is not ldap://host[:port] or ldaps://host[:port]")
    use_ssl = parsed.scheme == "ldaps"
    try:
        port = parsed.port or (636 if use_ssl else 389)
    except ValueError:
        raise DirectoryError(f"directory url '{url}' has an invalid port") from None
    return Endpoint(parsed.hostname, port, use_ssl)


def uses_start_tls(endpoint: Endpoint, ca_file: str | None) -> bool:
    """ldap:// is upgraded with StartTLS when a CA file says whom to trust, and stays clear text otherwise."""
    return not endpoint.use_ssl and bool(ca_file)


def clear_text_refusal(endpoint: Endpoint, ca_file: str | None, insecure: bool) -> str | None:
    """Why the bind password must not be sent, or None; decided from the settings, before any connection."""
    if endpoint.use_ssl or uses_start_tls(endpoint, ca_file) or endpoint.loopback or insecure:
        return None
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return (f"refusing to send the bind password in clear text to ldap://{host}:{endpoint.port}: use ldaps://, "
            "or set directory.ca_file or RECONCILER_CA_FILE for StartTLS, or pass --insecure")


def check_ca_file(path: str) -> None:
    """A CA file that cannot be used is named before any connection (not as an obscure TLS error later)."""
    where = f"CA file {path} (directory.ca_file or RECONCILER_CA_FILE)"
    try:
        pem = Path(path).read_bytes()
    except OSError as err:
        raise DirectoryError(f"{where} cannot be read: {err.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise DirectoryError(f"{where} holds no PEM certificate")
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, ValueError):
        raise DirectoryError(f"{where} holds no valid PEM certificate") from None


def _result_message(conn: ldap3.Connection) -> str:
    result = conn.result or {}
    text = result.get("description") or "error"
    if result.get("message"):
        text += f": {result['message']}"
    return text


def _fast_search_available() -> bool:
    try:
        import ldap  # noqa: F401  (python-ldap)
    except ImportError:
        return False
    return True


F = TypeVar("F", bound=Callable[..., Any])


def _reconnecting(method: F) -> F:
    """Marker and lock operations use a long-lived connection that a server may drop while an apply
    writes on others (olcIdleTimeout): reconnect once, and turn what ldap3 raises into one line."""

    @functools.wraps(method)
    def wrapper(self: LdapDirectory, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except ldap_errors.LDAPException:
            self._conn = None
        try:
            return method(self, *args, **kwargs)
        except ldap_errors.LDAPException as err:
            self._conn = None
            raise DirectoryError(f"{self.describe()}: {type(err).__name__.removeprefix('LDAP')}: "
                                 f"{str(err).splitlines()[0] if str(err) else 'connection lost'}") from None

    return wrapper  # type: ignore[return-value]


class LdapDirectory:
    def __init__(self, settings: DirectorySettings, *, insecure: bool = False, fast_read: bool | None = None) -> None:
        self.settings = settings
        self.base_dn = settings.base_dn
        self.endpoint = parse_url(settings.url)
        self.insecure = insecure
        refusal = clear_text_refusal(self.endpoint, settings.ca_file, insecure)
        if refusal:
            raise DirectoryError(refusal)
        if settings.ca_file:
            check_ca_file(settings.ca_file)
        self.fast_read = _fast_search_available() if fast_read is None else fast_read
        #: pipelined writes through python-ldap too (libldap encodes in C; ldap3's pyasn1 is the bottleneck)
        self.fast_write = self.fast_read
        self._conn: ldap3.Connection | None = None

    def describe(self) -> str:
        scheme = "ldaps" if self.endpoint.use_ssl else "ldap"
        return f"{scheme}://{self.endpoint.host}:{self.endpoint.port}"

    # -- connecting ------------------------------------------------------------------------------

    def _use_start_tls(self) -> bool:
        return uses_start_tls(self.endpoint, self.settings.ca_file)

    def _tls(self) -> ldap3.Tls:
        return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.settings.ca_file,
                         version=ssl.PROTOCOL_TLS_CLIENT)

    def _connect(self, strategy: str = ldap3.SYNC) -> ldap3.Connection:
        settings = self.settings
        if not settings.bind_dn or settings.bind_password is None:
            raise DirectoryError("no directory credentials: set RECONCILER_BIND_DN and RECONCILER_BIND_PASSWORD "
                                 "(or RECONCILER_BIND_PASSWORD_FILE)")
        refusal = clear_text_refusal(self.endpoint, settings.ca_file, self.insecure)
        if refusal:
            raise DirectoryError(refusal)
        start_tls = self._use_start_tls()
        encrypted = self.endpoint.use_ssl or start_tls
        tls = self._tls() if encrypted else None
        server = ldap3.Server(self.endpoint.host, port=self.endpoint.port, use_ssl=self.endpoint.use_ssl, tls=tls,
                              get_info=ldap3.NONE, connect_timeout=settings.timeout_seconds)
        conn = ldap3.Connection(server, user=settings.bind_dn, password=settings.bind_password,
                                client_strategy=strategy, auto_bind=ldap3.AUTO_BIND_NONE,
                                # ldap3's ASYNC receiver thread spins forever on a closed socket when a receive
                                # timeout is set; without one it ends when the connection is unbound.
                                receive_timeout=None if strategy == ldap3.ASYNC
                                else max(1, round(settings.timeout_seconds)),
                                raise_exceptions=False,
                                read_only=False, return_empty_attributes=False)
        where = self.describe()
        try:
            conn.open()
            if start_tls and not conn.start_tls():
                raise DirectoryError(f"{where}: StartTLS failed: {_result_message(conn)}")
            if not conn.bind():
                message = _result_message(conn)
                if "invalidCredentials" in message:
                    message = "invalid credentials (check RECONCILER_BIND_DN and the password)"
                raise DirectoryError(f"{where}: bind as {settings.bind_dn} failed: {message}")
        except ldap_errors.LDAPStartTLSError as err:
            raise DirectoryError(f"{where}: StartTLS failed: {_tls_reason(err)}") from None
        except ldap_errors.LDAPSocketOpenError as err:
            reason = _tls_reason(err) if "certificate" in str(err).lower() or "ssl" in str(err).lower() else \
                _socket_reason(err)
            raise DirectoryError(f"{where}: cannot connect: {reason}") from None
        except ldap_errors.LDAPException as err:
            raise DirectoryError(f"{where}: cannot connect: {_socket_reason(err)}") from None
        return conn

    @property
    def conn(self) -> ldap3.Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    # -- reading ---------------------------------------------------------------------------------

    def search(self, object_class: str, attributes: Sequence[str]) -> Iterator[Entry]:
        search_filter = f"(objectClass={object_class})"
        if self.fast_read:
            from reconciler.directory.fastread import paged_search

            yield from paged_search(self, search_filter, attributes)
            return
        # A connection of its own: its entries are decoded the reconciler's way (see _decode_entries_only).
        conn = self._connect()
        _decode_entries_only(conn)
        try:
            try:
                results = conn.extend.standard.paged_search(
                    self.base_dn, search_filter, search_scope=ldap3.LEVEL, attributes=list(attributes),
                    paged_size=self.settings.page_size, generator=True)
                for item in results:
                    if item.get("type") == "searchResEntry":
                        yield item["entry"]
            except ldap_errors.LDAPException as err:
                raise DirectoryError(f"{self.describe()}: search failed: {_socket_reason(err)}") from None
            result = conn.result or {}
            if result.get("result") == 32:
                raise DirectoryError(f"{self.describe()}: base DN {self.base_dn} does not exist")
            if result.get("result") not in (0, None):
                raise DirectoryError(f"{self.describe()}: search failed: {_result_message(conn)}")
        finally:
            with contextlib.suppress(ldap_errors.LDAPException):
                conn.unbind()

    # -- writing ---------------------------------------------------------------------------------

    def write(self, operations: Iterable[Operation], on_done: OnDone) -> None:
        """Pipelined writes; ``operations`` may be a generator, consumed as the window has room."""
        ops = iter(operations)
        first = next(ops, None)
        if first is None:
            return
        ops = itertools.chain((first,), ops)
        if self.fast_write:
            from reconciler.directory.fastread import pipelined_write

            pipelined_write(self, ops, on_done, PIPELINE_WINDOW)
            return
        conn = self._connect(ldap3.ASYNC)
        try:
            pending: deque[tuple[int, Operation, int]] = deque()
            for index, op in enumerate(ops):
                pending.append((index, op, self._submit(conn, op)))
                if len(pending) >= PIPELINE_WINDOW:
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
                    return int(conn.delete(dn))
        except ldap_errors.LDAPException as err:
            raise DirectoryError(f"{op.dn}: {err}") from None
        raise AssertionError(op)

    @staticmethod
    def _collect(conn: ldap3.Connection, item: tuple[int, Operation, int], on_done: OnDone) -> None:
        index, op, message_id = item
        try:
            _response, result = conn.get_response(message_id)
        except ldap_errors.LDAPException as err:
            on_done(index, f"{op.dn}: {err}")
            return
        if result.get("result") == 0:
            on_done(index, None)
        else:
            text = result.get("description", "error")
            if result.get("message"):
                text += f": {result['message']}"
            on_done(index, f"{op.dn}: {text}")

    def _sync_write(self, op: Operation) -> None:
        errors: list[str] = []
        conn = self.conn
        match op:
            case Add(dn, attrs):
                ok = conn.add(dn, attrs.get("objectClass", []), {k: v for k, v in attrs.items() if k != "objectClass"})
            case Modify(dn, replace):
                ok = conn.modify(dn, {n: [(ldap3.MODIFY_REPLACE, v)] for n, v in replace.items()})
            case Delete(dn):
                ok = conn.delete(dn)
        if not ok:
            errors.append(f"{op.dn}: {_result_message(conn)}")
        if errors:
            raise DirectoryError(errors[0])

    # -- markers, lock, passwords ------------------------------------------------------------------

    def _marker_dn(self, name: str) -> str:
        return f"cn={name},{self.base_dn}"

    @_reconnecting
    def read_marker(self, name: str) -> Marker | None:
        conn = self.conn
        dn = self._marker_dn(name)
        conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["description"])
        if (conn.result or {}).get("result") not in (0, 32, None):  # noSuchObject: no marker yet
            raise DirectoryError(f"{dn}: cannot read: {_result_message(conn)}")
        if not conn.entries and not conn.response:
            return None
        for item in conn.response or []:
            if item.get("type") == "searchResEntry":
                values = item["raw_attributes"].get("description") or []
                return Marker.decode(name, values[0].decode("utf-8") if values else None)
        return None

    @_reconnecting
    def write_marker(self, marker: Marker) -> None:
        dn = self._marker_dn(marker.name)
        conn = self.conn
        if conn.modify(dn, {"description": [(ldap3.MODIFY_REPLACE, [marker.encode()])]}):
            return
        if (conn.result or {}).get("result") == 32:  # noSuchObject: first time
            self._sync_write(Add(dn, {"objectClass": ["top", "applicationProcess"], "cn": [marker.name],
                                      "description": [marker.encode()]}))
            return
        raise DirectoryError(f"{dn}: cannot record: {_result_message(conn)}")

    @_reconnecting
    def acquire_lock(self, holder: str) -> None:
        dn = self._marker_dn(LOCK_CN)
        info = Marker(LOCK_CN, {"holder": holder, "since": now_utc().isoformat(timespec="seconds")})
        conn = self.conn
        if conn.add(dn, ["top", "applicationProcess"], {"cn": [LOCK_CN], "description": [info.encode()]}):
            return
        if (conn.result or {}).get("result") == 68:  # entryAlreadyExists
            current = self.read_marker(LOCK_CN)
            held = (f"held by {current.data.get('holder', '?')} since {current.data.get('since', '?')}"
                    if current else "held")
            raise LockedError(f"another apply holds the lock {dn} ({held}); if no apply is running, break it "
                              "with --break-lock")
        message = _result_message(conn)
        if self._base_missing(conn):  # noSuchObject, or unwillingToPerform outside every naming context
            raise DirectoryError(f"{self.describe()}: base DN {self.base_dn} does not exist")
        raise DirectoryError(f"{dn}: cannot take the apply lock: {message}")

    def _base_missing(self, conn: ldap3.Connection) -> bool:
        try:
            conn.search(self.base_dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["1.1"])
        except ldap_errors.LDAPException:
            return False
        return (conn.result or {}).get("result") in (10, 32)  # referral, noSuchObject

    @_reconnecting
    def release_lock(self) -> None:
        conn = self.conn
        if not conn.delete(self._marker_dn(LOCK_CN)) and (conn.result or {}).get("result") != 32:
            raise DirectoryError(f"{self._marker_dn(LOCK_CN)}: cannot release the apply lock: "
                                 f"{_result_message(conn)}")

    @_reconnecting
    def break_lock(self) -> LockInfo | None:
        current = self.read_marker(LOCK_CN)
        if current is None:
            return None
        self.release_lock()
        return LockInfo(str(current.data.get("holder", "?")), str(current.data.get("since", "?")))

    @_reconnecting
    def set_password(self, dn: str, password: str, *, must_change: bool) -> None:
        replace = {"userPassword": [password]}
        if must_change:
            replace["pwdReset"] = ["TRUE"]
        self._sync_write(Modify(dn, replace))

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(ldap_errors.LDAPException):
                self._conn.unbind()
            self._conn = None


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
            return "the server's certificate is not issued for the host name in the url"
        if "expired" in text:
            return "the server's certificate has expired"
        return "the server's certificate is not trusted (set directory.ca_file or RECONCILER_CA_FILE)"
    if any(code in text for code in ("UNEXPECTED_EOF", "WRONG_VERSION_NUMBER", "EOF occurred", "RECORD_LAYER")):
        return "TLS handshake failed: the port does not speak TLS (is it the server's ldaps:// port?)"
    if "startTLS failed" in text:
        return "the server does not offer StartTLS (use ldaps:// if it has a TLS port)"
    return f"TLS handshake failed: {_plain(err)}"


def _socket_reason(err: Exception) -> str:
    text = str(err).lower()
    if "refused" in text:
        return "connection refused (is the server running and the url right?)"
    if "timed out" in text or isinstance(err, ldap_errors.LDAPResponseTimeoutError):
        return "connection timed out"
    if isinstance(err, ldap_errors.LDAPSessionTerminatedByServerError):
        return "the server closed the connection (is it a TLS port that needs ldaps://?)"
    if "name or service not known" in text or "getaddrinfo" in text or "no address found" in text:
        return "the host name does not resolve"
    return _plain(err)
