"""A real LDAP server through ldap3 (pure Python); python-ldap speeds up bulk reads when installed.

Connections are encrypted: ``ldaps://``, or ``ldap://`` upgraded with StartTLS. A simple bind in
clear text is only allowed to a loopback address (a test server) or with ``--insecure``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

import ldap3
from ldap3.core import exceptions as ldap_errors

from ..settings import DirectorySettings
from .base import (
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

#: how many writes are in flight at once on the pipelined connection
PIPELINE_WINDOW = 64


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


class LdapDirectory:
    def __init__(self, settings: DirectorySettings, *, insecure: bool = False, fast_read: bool | None = None) -> None:
        self.settings = settings
        self.base_dn = settings.base_dn
        self.endpoint = parse_url(settings.url)
        self.insecure = insecure
        self.fast_read = _fast_search_available() if fast_read is None else fast_read
        self._conn: ldap3.Connection | None = None

    def describe(self) -> str:
        scheme = "ldaps" if self.endpoint.use_ssl else "ldap"
        return f"{scheme}://{self.endpoint.host}:{self.endpoint.port}"

    # -- connecting ------------------------------------------------------------------------------

    def _use_start_tls(self) -> bool:
        if self.endpoint.use_ssl:
            return False
        # Plain ldap:// is upgraded unless it is a loopback test server without a CA, or --insecure.
        if self.insecure:
            return bool(self.settings.ca_file)
        return bool(self.settings.ca_file) or not self.endpoint.loopback

    def _tls(self) -> ldap3.Tls:
        return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.settings.ca_file,
                         version=ssl.PROTOCOL_TLS_CLIENT)

    def _connect(self, strategy: str = ldap3.SYNC) -> ldap3.Connection:
        settings = self.settings
        if not settings.bind_dn or settings.bind_password is None:
            raise DirectoryError("no directory credentials: set RECONCILER_BIND_DN and RECONCILER_BIND_PASSWORD "
                                 "(or RECONCILER_BIND_PASSWORD_FILE)")
        start_tls = self._use_start_tls()
        encrypted = self.endpoint.use_ssl or start_tls
        if not encrypted and not self.endpoint.loopback and not self.insecure:
            raise DirectoryError(f"refusing a clear-text bind to {self.describe()}: use ldaps:// or StartTLS "
                                 "(set directory.ca_file), or --insecure")
        tls = self._tls() if encrypted else None
        server = ldap3.Server(self.endpoint.host, port=self.endpoint.port, use_ssl=self.endpoint.use_ssl, tls=tls,
                              get_info=ldap3.NONE, connect_timeout=settings.timeout_seconds)
        conn = ldap3.Connection(server, user=settings.bind_dn, password=settings.bind_password,
                                client_strategy=strategy, auto_bind=ldap3.AUTO_BIND_NONE,
                                receive_timeout=max(1, round(settings.timeout_seconds)), raise_exceptions=False,
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
            raise DirectoryError(f"{where}: {type(err).__name__}: {err}") from None
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
            from .fastread import paged_search

            yield from paged_search(self, search_filter, attributes)
            return
        conn = self.conn
        try:
            results = conn.extend.standard.paged_search(
                self.base_dn, search_filter, search_scope=ldap3.LEVEL, attributes=list(attributes),
                paged_size=self.settings.page_size, generator=True)
            for item in results:
                if item.get("type") != "searchResEntry":
                    continue
                raw = item["raw_attributes"]
                yield Entry(item["dn"], {name.lower(): [v.decode("utf-8") for v in values]
                                         for name, values in raw.items()})
        except ldap_errors.LDAPException as err:
            raise DirectoryError(f"{self.describe()}: search failed: {err}") from None
        result = conn.result or {}
        if result.get("result") == 32:
            raise DirectoryError(f"{self.describe()}: base DN {self.base_dn} does not exist")
        if result.get("result") not in (0, None):
            raise DirectoryError(f"{self.describe()}: search failed: {_result_message(conn)}")

    # -- writing ---------------------------------------------------------------------------------

    def write(self, operations: Sequence[Operation], on_done: OnDone) -> None:
        if not operations:
            return
        conn = self._connect(ldap3.ASYNC)
        try:
            pending: list[tuple[int, int]] = []
            for index, op in enumerate(operations):
                pending.append((index, self._submit(conn, op)))
                if len(pending) >= PIPELINE_WINDOW:
                    self._collect(conn, operations, pending.pop(0), on_done)
            for item in pending:
                self._collect(conn, operations, item, on_done)
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
    def _collect(conn: ldap3.Connection, operations: Sequence[Operation], item: tuple[int, int],
                 on_done: OnDone) -> None:
        index, message_id = item
        try:
            _response, result = conn.get_response(message_id)
        except ldap_errors.LDAPException as err:
            on_done(index, f"{operations[index].dn}: {err}")
            return
        if result.get("result") == 0:
            on_done(index, None)
        else:
            text = result.get("description", "error")
            if result.get("message"):
                text += f": {result['message']}"
            on_done(index, f"{operations[index].dn}: {text}")

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

    def read_marker(self, name: str) -> Marker | None:
        conn = self.conn
        conn.search(self._marker_dn(name), "(objectClass=*)", search_scope=ldap3.BASE, attributes=["description"])
        if not conn.entries and not conn.response:
            return None
        for item in conn.response or []:
            if item.get("type") == "searchResEntry":
                values = item["raw_attributes"].get("description") or []
                return Marker.decode(name, values[0].decode("utf-8") if values else None)
        return None

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
        if (conn.result or {}).get("result") == 32:
            raise DirectoryError(f"{self.describe()}: base DN {self.base_dn} does not exist")
        raise DirectoryError(f"{dn}: cannot take the apply lock: {_result_message(conn)}")

    def release_lock(self) -> None:
        self.conn.delete(self._marker_dn(LOCK_CN))

    def break_lock(self) -> LockInfo | None:
        current = self.read_marker(LOCK_CN)
        if current is None:
            return None
        self.release_lock()
        return LockInfo(str(current.data.get("holder", "?")), str(current.data.get("since", "?")))

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


def _tls_reason(err: Exception) -> str:
    text = str(err)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return "the server's certificate is not trusted (set directory.ca_file or RECONCILER_CA_FILE)"
    return f"TLS error: {text.splitlines()[0] if text else type(err).__name__}"


def _socket_reason(err: Exception) -> str:
    text = str(err)
    if "refused" in text.lower():
        return "connection refused (is the server running and the url right?)"
    if "timed out" in text.lower():
        return "connection timed out"
    return text.splitlines()[0] if text else type(err).__name__
