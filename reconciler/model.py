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
    #: an account at an address the policy no longer allows, declared only to be disabled or removed
    legacy: bool = False
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
    #: how many staff the unit has, when its file says (report --summary without a roster)
    staff: int | None = None


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
    #: when the entry was created (createTimestamp), where the directory says so (the review reads it)
    created: datetime | None = None
    #: the unit as written in the directory (`ou`), whatever unit it maps to (for import and reports)
    ou: str | None = None

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
    #: for the people who review a plan, never part of its checksum (reconciler.plan.display fills them):
    #: the mailbox's display name, its owner's name, the unit's full name, the ticket behind it
    name: str | None = field(default=None, compare=False)
    owner_name: str | None = field(default=None, compare=False)
    unit_name: str | None = field(default=None, compare=False)
    ticket: str | None = field(default=None, compare=False)
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
    name: str | None = field(default=None, compare=False)
    unit_name: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Reminder:
    """Something a person must do after the plan is applied (the tool cannot do it for them)."""

    address: str
    message: str


@dataclass(frozen=True, slots=True)
class Violation:
    """A forward or alias in the live directory that the province's policy forbids."""

    address: str
    unit: str | None
    #: "forward_to" or "aliases"
    field: str
    value: str
    #: why it is forbidden, e.g. "public mail provider (gmail.com)"
    reason: str
    managed: bool


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A live entry the profile cannot read as one mailbox: reported, never touched."""

    dn: str
    reason: str


@dataclass(frozen=True, slots=True)
class LiveView:
    """What a profile made of the live entries."""

    #: readable mailbox accounts, keyed by lowercase address
    accounts: dict[str, Account]
    #: DNs of entries that are not mailboxes under the profile (no mail, other object classes)
    not_mailboxes: tuple[str, ...] = ()
    unreadable: tuple[Unreadable, ...] = ()
    #: how many entries `directory.ignore` kept out
    ignored: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    changes: tuple[Change, ...]
    unchanged: int
    unmanaged: tuple[str, ...]
    deferred: tuple[Deferred, ...] = ()
    violations: tuple[Violation, ...] = ()
    unreadable: tuple[Unreadable, ...] = ()
    not_mailboxes: tuple[str, ...] = ()
    reminders: tuple[Reminder, ...] = ()

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def needs_attention(self) -> bool:
        """What the drift check reports (exit 2): changes to make or policy violations in the directory."""
        return bool(self.changes or self.violations)


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
