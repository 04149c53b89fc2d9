"""The domain model: plain immutable values, no I/O.

Everything the reconciler reasons about (declared mailboxes, live accounts, plans) is one of these
dataclasses, so the core (policy, diff, safety) can be tested with literals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Status(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    REMOVED = "removed"


class Kind(StrEnum):
    PERSONAL = "personal"
    FUNCTIONAL = "functional"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DISABLE = "disable"
    ENABLE = "enable"
    REMOVE = "remove"


#: The order apply runs changes in: give access before taking it away, removals last.
APPLY_ORDER: tuple[Action, ...] = (
    Action.CREATE,
    Action.ENABLE,
    Action.UPDATE,
    Action.DISABLE,
    Action.REMOVE,
)


@dataclass(frozen=True, slots=True)
class Owner:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One declared mailbox, as written in a unit file."""

    address: str
    name: str
    kind: Kind
    owner: Owner
    status: Status
    unit: str
    aliases: tuple[str, ...] = ()
    forward_to: tuple[str, ...] = ()
    expires: date | None = None
    ticket: str | None = None
    #: where it was declared: (file, index in the file's `mailboxes` list)
    source: SourceRef | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class SourceRef:
    file: str
    index: int


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    name: str
    file: str
    mailboxes: tuple[Mailbox, ...]


@dataclass(frozen=True, slots=True)
class Desired:
    """The whole declared state: every unit file of the repository."""

    units: tuple[Unit, ...]

    def mailboxes(self) -> list[Mailbox]:
        return [m for u in self.units for m in u.mailboxes]


@dataclass(frozen=True, slots=True)
class Account:
    """The reconciler-relevant view of one live directory account.

    ``fields`` holds the same keys as :func:`managed_fields` of a Mailbox, as read back from the
    directory by a profile, so desired and live compare like for like.
    """

    address: str
    fields: dict[str, object]
    disabled_since: datetime | None = None
    last_login: datetime | None = None
    dn: str = ""
    #: the display name as stored, without drift annotations (for import)
    name: str = ""

    @property
    def status(self) -> Status:
        return Status.ACTIVE if self.disabled_since is None else Status.DISABLED


@dataclass(frozen=True, slots=True)
class Change:
    action: Action
    address: str
    unit: str
    before: dict[str, object] | None
    after: dict[str, object] | None
    origin: str | None = None
    #: why the change is planned when the declaration alone does not say it ("expired on 27/11/2026")
    reason: str | None = None

    def changed_fields(self) -> list[str]:
        before = self.before or {}
        after = self.after or {}
        return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


@dataclass(frozen=True, slots=True)
class Deferred:
    """A removal that waits for the grace period of its disabled account to end."""

    address: str
    unit: str
    eligible_on: date
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class Reminder:
    """Something a person must do after the plan is applied (the tool cannot do it for them)."""

    address: str
    message: str


@dataclass(frozen=True, slots=True)
class Plan:
    changes: tuple[Change, ...]
    unchanged: int
    unmanaged: tuple[str, ...]
    deferred: tuple[Deferred, ...] = ()
    reminders: tuple[Reminder, ...] = ()

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)


def managed_fields(mailbox: Mailbox) -> dict[str, object]:
    """The attributes of a mailbox that live in the directory and are compared by the diff."""
    return {
        "name": mailbox.name,
        "kind": mailbox.kind.value,
        "unit": mailbox.unit,
        "owner": mailbox.owner.id,
        "aliases": sorted(mailbox.aliases),
        "forward_to": sorted(mailbox.forward_to),
    }
