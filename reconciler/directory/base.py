"""What the reconciler needs from a directory, whatever stores it.

Backends speak entries (DN + attributes); profiles translate between entries and the model.
Writes are handed over as a batch so a backend can pipeline them (LDAP) or commit them in one
atomic file write (LDIF); each operation still gets its own outcome.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from reconciler.i18n import _
from reconciler.problems import ReconcilerError

LOCK_CN = "reconciler-lock"
STATE_CN = "reconciler-state"


class DirectoryError(ReconcilerError):
    """The directory could not be reached or refused an operation (one line, no secrets)."""


class LockedError(DirectoryError):
    pass


class MarkerError(DirectoryError):
    """Where the reconciler keeps its own entry (lock, state) there is something else: a referral or an
    entry of another object class. Never followed, never overwritten."""


@dataclass(frozen=True, slots=True)
class Entry:
    dn: str
    #: attribute name (lowercase) -> values
    attrs: dict[str, list[str]]

    def first(self, name: str) -> str | None:
        values = self.attrs.get(name.lower())
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return self.attrs.get(name.lower(), [])


@dataclass(frozen=True, slots=True)
class Add:
    dn: str
    attrs: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Modify:
    """Replace each named attribute's values; an empty list deletes the attribute."""

    dn: str
    replace: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete an entry; with ``still_before`` = (attribute, GeneralizedTime) only while the entry still
    has that attribute at or before that time, checked by the directory at the moment of the delete
    (an LDAP assertion control): the removal re-check reads the live entry, not the plan's snapshot."""

    dn: str
    still_before: tuple[str, str] | None = None


Operation = Add | Modify | Delete

#: called once per operation, in submission order: (index, error message or None)
OnDone = Callable[[int, str | None], None]


class UnknownOutcome(str):
    """An outcome message for an operation whose answer was lost (connection lost, no answer in time):
    the directory may or may not have carried it out, so it must be re-read before it is recorded."""

    __slots__ = ()


ASSERTION_FAILED_TEXT = "assertionFailed"


@dataclass(frozen=True, slots=True)
class LockInfo:
    holder: str
    since: str
    host: str | None = None
    pid: int | None = None
    heartbeat: str | None = None

    def describe(self) -> str:
        where = _(" (process {pid} on {host})").format(pid=self.pid, host=self.host) if self.host and self.pid else ""
        return _("held by {holder}{where} since {since}").format(holder=self.holder, where=where, since=self.since)


@dataclass
class Marker:
    """A small JSON record the reconciler keeps in the directory itself (lock, last apply)."""

    name: str
    data: dict[str, object] = field(default_factory=dict)

    def encode(self) -> str:
        return json.dumps(self.data, sort_keys=True, ensure_ascii=False)

    @staticmethod
    def decode(name: str, text: str | None) -> Marker | None:
        if text is None:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = {"raw": text}
        return Marker(name, data if isinstance(data, dict) else {"raw": text})


def now_utc() -> datetime:
    return datetime.now(UTC)


class Directory(Protocol):
    """A live mail directory: an LDAP server or the embedded LDIF file."""

    base_dn: str

    def describe(self) -> str: ...

    def search(self, object_class: str, attributes: Sequence[str]) -> Iterator[Entry]:
        """Entries of ``object_class`` one level under base_dn."""
        ...

    def read_entry(self, dn: str, attributes: Sequence[str]) -> Entry | None:
        """One entry as the directory has it now (re-read, never from a cache); None when absent."""
        ...

    def write(self, operations: Iterable[Operation], on_done: OnDone) -> None:
        """Carry out every operation (a generator is fine); report each outcome in order; one failure does
        not stop the others. The operations of one batch must be independent (each DN at most once):
        pipelined requests may be carried out in any order. apply sends one change per mailbox per
        phase, and validation keeps addresses and local parts, hence DNs, unique."""
        ...

    def read_marker(self, name: str) -> Marker | None: ...

    def write_marker(self, marker: Marker) -> None: ...

    def acquire_lock(self, holder: str) -> None:
        """Take the apply lock or raise LockedError naming who holds it."""
        ...

    def release_lock(self) -> None:
        """Release the lock this object took (never another apply's)."""
        ...

    def break_lock(self, *, force: bool = False) -> LockInfo | None:
        """Remove a stale lock; refuse (LockedError) one whose holder is alive unless ``force``."""
        ...

    def server_time(self) -> datetime | None:
        """The directory server's clock now (None: the directory has no clock of its own)."""
        ...

    def set_password(self, dn: str, password: str, *, must_change: bool) -> None: ...

    def close(self) -> None: ...
