"""A real LDAP server, through whichever LDAP client library is installed (directory/clients/).

python-ldap (libldap, C) is preferred when it can be imported, ldap3 (pure Python) otherwise; the
``client`` argument forces one (the tests run both). Everything the reconciler keeps in the
directory itself — the state marker, the apply lock with its owner token and heartbeat — and the
removal re-check are written here once, on top of the client interface.

Referrals are never followed, and the reconciler's own entries are read and written with the
ManageDsaIT control: a referral, or an entry of another object class, where the reconciler keeps its
marker or lock is an error naming the DN, so the bind password never leaves for another host.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from reconciler.directory import lock as locking
from reconciler.directory.base import (
    LOCK_CN,
    DirectoryError,
    Entry,
    LockedError,
    LockInfo,
    Marker,
    MarkerError,
    Modify,
    OnDone,
    Operation,
    now_utc,
)
from reconciler.directory.clients.endpoint import (
    Connection,
    Endpoint,
    check_ca_file,
    clear_text_refusal,
    parse_url,
    uses_start_tls,
)
from reconciler.directory.clients.interface import (
    ASSERTION_FAILED,
    ENTRY_ALREADY_EXISTS,
    REFERRAL,
    UNWILLING_TO_PERFORM,
    ConnectionLost,
    LdapClient,
    LdapResultError,
    escape_filter_value,
)
from reconciler.directory.clients.ldap3client import Ldap3Client
from reconciler.directory.profiles.openldap import parse_generalized_time
from reconciler.i18n import N_, _
from reconciler.settings import DirectorySettings

#: how many writes are in flight at once on the pipelined connection. 256 keeps slapd busy (10,000 adds
#: about 10% faster than 64); it must stay well below slapd's olcConnMaxPendingAuth (default 1000),
#: past which slapd drops the connection.
PIPELINE_WINDOW = 256

#: the object class of the reconciler's own entries (lock, state marker)
MARKER_CLASS = "applicationProcess"
MARKER_ATTRIBUTES = ("objectClass", "description", "ref", "modifyTimestamp", "createTimestamp")

PYTHON_LDAP = "python-ldap"
LDAP3 = "ldap3"

T = TypeVar("T")

__all__ = ["LDAP3", "PIPELINE_WINDOW", "PYTHON_LDAP", "Endpoint", "LdapDirectory", "check_ca_file",
           "clear_text_refusal", "parse_url", "python_ldap_available", "uses_start_tls"]


def python_ldap_available() -> bool:
    try:
        import ldap  # noqa: F401  (python-ldap)
    except ImportError:
        return False
    return True


class LdapDirectory:
    def __init__(self, settings: DirectorySettings, *, insecure: bool = False, fast_read: bool | None = None,
                 client: str | None = None) -> None:
        """``client``: "python-ldap" or "ldap3" (default: python-ldap when importable); ``fast_read``
        is the older spelling (True: python-ldap, False: ldap3)."""
        self.settings = settings
        self.base_dn = settings.base_dn
        self.endpoint = parse_url(settings.url)
        self.insecure = insecure
        refusal = clear_text_refusal(self.endpoint, settings.ca_file, insecure)
        if refusal:
            raise DirectoryError(refusal)
        if settings.ca_file:
            check_ca_file(settings.ca_file)
        if client is None and fast_read is not None:
            client = PYTHON_LDAP if fast_read else LDAP3
        if client is None:
            client = PYTHON_LDAP if python_ldap_available() else LDAP3
        if client not in (PYTHON_LDAP, LDAP3):
            raise DirectoryError(_("unknown LDAP client library '{client}' (python-ldap or ldap3)").format(
                client=client))
        self.client_name = client
        self._sync: LdapClient | None = None
        self._lock: locking.LockRecord | None = None
        self._heartbeat: locking.Heartbeat | None = None

    # -- the client ------------------------------------------------------------------------------

    @property
    def fast_read(self) -> bool:
        return self.client_name == PYTHON_LDAP

    @property
    def fast_write(self) -> bool:
        return self.client_name == PYTHON_LDAP

    def describe(self) -> str:
        return self.endpoint.describe()

    def _connection(self) -> Connection:
        return Connection(self.settings, self.endpoint, self.insecure)

    def _use_start_tls(self) -> bool:
        return uses_start_tls(self.endpoint, self.settings.ca_file)

    def _connect(self) -> object:
        """An open, bound ldap3 connection (the precise diagnosis of a failed python-ldap connection)."""
        return Ldap3Client(self._connection()).connect()

    def _diagnose(self) -> None:
        conn = self._connect()
        with contextlib.suppress(Exception):
            conn.unbind()  # type: ignore[attr-defined]

    def new_client(self) -> LdapClient:
        connection = self._connection()
        if self.client_name == PYTHON_LDAP:
            from reconciler.directory.clients.pythonldap import PythonLdapClient

            return PythonLdapClient(connection, diagnose=self._diagnose)
        return Ldap3Client(connection)

    @property
    def client(self) -> LdapClient:
        """The long-lived client for markers, the lock and single operations."""
        if self._sync is None:
            self._sync = self.new_client()
        return self._sync

    def _once_more(self, call: Callable[[LdapClient], T]) -> T:
        """Marker and lock operations use a long-lived connection that a server may drop while an apply
        writes on others (olcIdleTimeout): reconnect once. Callers whose operation is not idempotent
        (taking the lock) check what happened themselves."""
        try:
            return call(self.client)
        except ConnectionLost:
            self.client.close()
        return call(self.client)

    # -- reading ---------------------------------------------------------------------------------

    def search(self, object_class: str, attributes: Sequence[str]) -> Iterator[Entry]:
        return self.new_client().paged_search(self.base_dn, f"(objectClass={object_class})", attributes) \
            if self.fast_read else self.client.paged_search(self.base_dn, f"(objectClass={object_class})",
                                                             attributes)

    def read_entry(self, dn: str, attributes: Sequence[str]) -> Entry | None:
        """One entry as it is now (no referral followed); None when there is none."""
        return self._once_more(lambda client: client.read(dn, attributes, manage_dsa_it=False))

    # -- writing ---------------------------------------------------------------------------------

    def write(self, operations: Iterable[Operation], on_done: OnDone) -> None:
        """Pipelined writes; ``operations`` may be a generator, consumed as the window has room."""
        ops = iter(operations)
        first = next(ops, None)
        if first is None:
            return
        self.new_client().pipelined_write(itertools.chain((first,), ops), on_done, PIPELINE_WINDOW)

    # -- the reconciler's own entries --------------------------------------------------------------

    def _marker_dn(self, name: str) -> str:
        return f"cn={name},{self.base_dn}"

    def _own_entry(self, name: str, what: str) -> Entry | None:
        """The reconciler's entry ``name`` as it is (ManageDsaIT: a referral object is read, not followed),
        or MarkerError when something else sits there."""
        dn = self._marker_dn(name)
        try:
            entry = self._once_more(lambda client: client.read(dn, MARKER_ATTRIBUTES))
        except LdapResultError as err:
            if err.name == REFERRAL:
                raise MarkerError(_("{dn}: the reconciler's {what} is a referral to another server; refusing to "
                                    "follow it (remove that entry)").format(dn=dn, what=_(what))) from None
            raise
        if entry is None:
            return None
        classes = {c.lower() for c in entry.all("objectClass")}
        if "referral" in classes or entry.all("ref"):
            raise MarkerError(_("{dn}: the reconciler's {what} is a referral to {target}; "
                                "refusing to follow it (remove that entry with ldapdelete -M)").format(
                dn=dn, what=_(what), target=", ".join(entry.all("ref"))))
        if MARKER_CLASS.lower() not in classes:
            raise MarkerError(_("{dn}: the reconciler's {what} is an entry of another kind "
                                "(objectClass {classes}); refusing to use it (remove or move that entry)").format(
                dn=dn, what=_(what), classes=", ".join(entry.all("objectClass")) or _("unknown")))
        return entry

    def read_marker(self, name: str) -> Marker | None:
        entry = self._own_entry(name, N_("lock") if name == LOCK_CN else N_("state marker"))
        return Marker.decode(name, entry.first("description")) if entry else None

    def write_marker(self, marker: Marker) -> None:
        dn = self._marker_dn(marker.name)
        self._own_entry(marker.name, "state marker")
        try:
            self._once_more(lambda client: client.modify(
                dn, {"description": [marker.encode()]}, assertion=f"(objectClass={MARKER_CLASS})"))
            return
        except LdapResultError as err:
            if err.name == ASSERTION_FAILED:
                raise MarkerError(_("{dn}: the reconciler's state marker was replaced by an entry of another kind; "
                                    "refusing to write it").format(dn=dn)) from None
            if err.name != "noSuchObject":
                raise DirectoryError(_("{dn}: cannot record: {reason}").format(
                    dn=dn, reason=str(err).removeprefix(dn + ": "))) from None
        self._once_more(lambda client: client.add(dn, {"objectClass": ["top", MARKER_CLASS], "cn": [marker.name],
                                                       "description": [marker.encode()]}))

    # -- the apply lock ------------------------------------------------------------------------------

    def _read_lock(self) -> tuple[Marker | None, Entry | None]:
        entry = self._own_entry(LOCK_CN, "lock")
        return (Marker.decode(LOCK_CN, entry.first("description")) if entry else None), entry

    def acquire_lock(self, holder: str) -> None:
        dn = self._marker_dn(LOCK_CN)
        record = locking.LockRecord.new(holder)
        add = {"objectClass": ["top", MARKER_CLASS], "cn": [LOCK_CN], "description": [record.marker().encode()]}
        for attempt in range(2):
            try:
                self.client.add(dn, add)
                break
            except ConnectionLost:
                # The add may have reached the server and only its answer was lost: never retry blindly.
                self.client.close()
                if attempt:
                    raise
            except LdapResultError as err:
                if err.name == ENTRY_ALREADY_EXISTS:
                    break
                if err.name in ("noSuchObject", UNWILLING_TO_PERFORM, REFERRAL) and self._base_missing():
                    raise DirectoryError(_("{where}: base DN {base} does not exist").format(
                        where=self.describe(), base=self.base_dn)) from None
                raise DirectoryError(_("{dn}: cannot take the apply lock: {reason}").format(
                    dn=dn, reason=str(err).removeprefix(dn + ": "))) from None
        # Whatever the answer, the lock is ours only if it carries our token.
        current, _entry = self._read_lock()
        if locking.token_of(current) != record.token:
            info = locking.info_of(current)
            held = info.describe() if info else _("held")
            raise LockedError(_("another apply holds the lock {dn} ({held}); if no apply is running, break it "
                                "with --break-lock").format(dn=dn, held=held))
        self._lock = record
        self._heartbeat = locking.Heartbeat(self._beat)
        self._heartbeat.start()

    def _beat(self, state: dict[str, LdapClient]) -> None:
        """One heartbeat, on a connection of the heartbeat's own (``state`` keeps it between beats)."""
        try:
            client = state.setdefault("client", self.new_client())
            self.renew_lock(client)
        except DirectoryError:
            if "client" in state:
                state.pop("client").close()  # try again at the next beat

    def _token_assertion(self, record: locking.LockRecord) -> str:
        return (f"(&(objectClass={MARKER_CLASS})"
                f"(description=*{escape_filter_value(locking.token_fragment(record.token))}*))")

    def renew_lock(self, client: LdapClient | None = None) -> bool:
        """Renew the heartbeat of the lock this object holds; False when it is no longer ours."""
        record = self._lock
        if record is None:
            return False
        renewed = record.renewed()
        try:
            (client or self.client).modify(self._marker_dn(LOCK_CN), {"description": [renewed.marker().encode()]},
                                           assertion=self._token_assertion(record))
        except LdapResultError:
            return False
        return True

    def release_lock(self) -> None:
        record, self._lock = self._lock, None
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        if record is None:
            return
        dn = self._marker_dn(LOCK_CN)
        try:
            # Deletes the lock only while it carries our token: never another apply's lock.
            self._once_more(lambda client: client.delete(dn, assertion=self._token_assertion(record)))
        except LdapResultError as err:
            if err.name in ("noSuchObject", ASSERTION_FAILED):
                return  # broken by someone else (and perhaps taken by another apply): not ours to delete
            raise DirectoryError(_("{dn}: cannot release the apply lock: {reason}").format(
                dn=dn, reason=str(err).removeprefix(dn + ": "))) from None

    def break_lock(self, *, force: bool = False) -> LockInfo | None:
        dn = self._marker_dn(LOCK_CN)
        current, _entry = self._read_lock()
        info = locking.info_of(current)
        if current is None or info is None:
            return None
        if not force:
            reason = locking.break_refusal(info, now=now_utc())
            if reason:
                raise LockedError(locking.refused_message(dn, info, reason))
        token = locking.token_of(current)
        assertion = (f"(description=*{escape_filter_value(locking.token_fragment(token))}*)" if token
                     else f"(objectClass={MARKER_CLASS})")
        try:
            self._once_more(lambda client: client.delete(dn, assertion=assertion))
        except LdapResultError as err:
            if err.name == "noSuchObject":
                return None
            if err.name == ASSERTION_FAILED:
                raise LockedError(_("{dn}: the apply lock changed while it was being broken (another apply took "
                                    "it); nothing was removed").format(dn=dn)) from None
            raise DirectoryError(_("{dn}: cannot break the apply lock: {reason}").format(
                dn=dn, reason=str(err).removeprefix(dn + ": "))) from None
        return info

    def _base_missing(self) -> bool:
        try:
            entry = self.client.read(self.base_dn, ["1.1"], manage_dsa_it=False)
        except LdapResultError as err:
            return err.name in (REFERRAL, "noSuchObject")
        except DirectoryError:
            return False
        return entry is None

    # -- the server's clock ------------------------------------------------------------------------

    def server_time(self) -> datetime | None:
        """The server's clock: the modifyTimestamp slapd gives the lock entry when its heartbeat is renewed
        (OpenLDAP publishes no clock in its root DSE without the monitor backend)."""
        if self._lock is None or not self.renew_lock():
            return None
        _marker, entry = self._read_lock()
        stamp = entry.first("modifyTimestamp") if entry else None
        return parse_generalized_time(stamp) if stamp else None

    # -- passwords -----------------------------------------------------------------------------------

    def set_password(self, dn: str, password: str, *, must_change: bool) -> None:
        replace = {"userPassword": [password]}
        if must_change:
            replace["pwdReset"] = ["TRUE"]
        op = Modify(dn, replace)
        try:
            self._once_more(lambda client: client.modify(op.dn, op.replace, manage_dsa_it=False))
        except LdapResultError as err:
            raise DirectoryError(str(err)) from None

    def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        if self._sync is not None:
            self._sync.close()
            self._sync = None
