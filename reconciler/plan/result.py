"""What `plan` and `apply` hand back to their callers: plain objects, no I/O, nothing printed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.audit.lifecycle import CHANGE, DRIFT, SCHEDULED
from reconciler.model import Change, Deferred, Plan
from reconciler.plan import planfile

if TYPE_CHECKING:
    from reconciler.audit.provenance import Source
    from reconciler.audit.records import ApplyRecord
    from reconciler.declarations.validation import Validation
    from reconciler.directory.base import LockInfo, Marker
    from reconciler.plan.apply import ApplyResult, Outcome
    from reconciler.plan.display import DeclarationChange


@dataclass(frozen=True)
class Sections:
    """A plan computed against a base revision, split by where each change comes from.

    Keys are origins (``change``: what this pull request asks for; ``drift``: differences already in
    the directory; ``scheduled``: decided earlier and due now or later), in the order a reader sees them.
    """

    #: origin -> changes: ``change`` and ``drift`` always, ``scheduled`` when anything is due now or later
    changes: dict[str, list[Change]]
    #: origin -> removals waiting for their grace period: ``change`` and ``scheduled``
    waiting: dict[str, list[Deferred]]

    @property
    def drift(self) -> list[Change]:
        return self.changes[DRIFT]


@dataclass(frozen=True)
class Planned:
    """A computed plan and the context a reader needs to trust it.

    ``plan`` is the diff itself (with each change's ``origin`` when a base revision was given);
    the rest says what it was computed against: the directory, its last recorded apply, the base.
    """

    plan: Plan
    validation: Validation
    directory: str
    profile: str
    base_dn: str
    last_apply: Marker | None = None
    base: str | None = None
    existing_managed: int = 0
    #: with a base: declared changes that reach no directory attribute (an expiry, a ticket, an owner's name)
    declaration_changes: tuple[DeclarationChange, ...] = ()
    #: live entries directory.ignore kept out of the plan
    ignored: int = 0
    #: why apply would refuse this plan without --force (the disable threshold), shown to reviewers early
    threshold_refusal: str | None = None

    @property
    def changes(self) -> tuple[Change, ...]:
        return self.plan.changes

    @property
    def deferred(self) -> tuple[Deferred, ...]:
        return self.plan.deferred

    @property
    def unmanaged(self) -> tuple[str, ...]:
        return self.plan.unmanaged

    @property
    def has_changes(self) -> bool:
        return self.plan.has_changes

    @property
    def needs_attention(self) -> bool:
        """Changes to make, or policy violations in the live directory (``--detailed-exitcode`` exits 2)."""
        return self.plan.needs_attention

    @property
    def summary(self) -> dict[str, int]:
        return planfile.summary(self.plan)

    @property
    def checksum(self) -> str:
        return planfile.checksum(self.plan)

    def to_json(self) -> dict[str, object]:
        """The plan in its stable machine form (``format_version`` 1; see the README)."""
        return planfile.to_json(self.plan)

    def sections(self) -> Sections | None:
        """The changes and waiting removals by origin (see :class:`Sections`); None without a base revision."""
        if self.base is None:
            return None
        changes = {origin: [c for c in self.plan.changes if c.origin == origin] for origin in (CHANGE, DRIFT)}
        scheduled = [c for c in self.plan.changes if c.origin == SCHEDULED]
        later = [d for d in self.plan.deferred if d.origin == SCHEDULED]
        if scheduled or later:
            changes[SCHEDULED] = scheduled
        waiting = {CHANGE: [d for d in self.plan.deferred if d.origin == CHANGE], SCHEDULED: later}
        return Sections(changes, waiting)


@dataclass
class Applied:
    """What one apply did, or why it did nothing (no changes, a dry run)."""

    planned: Planned
    source: Source
    dry_run: bool = False
    #: what --break-lock found: None when not asked, False when no lock was held
    broken_lock: LockInfo | bool | None = None
    result: ApplyResult | None = None
    record: ApplyRecord | None = None
    #: why the apply record did not reach git, if it did not
    record_warning: str | None = None
    #: things that went wrong after the changes were made (the lock, the directory's last-apply marker)
    warnings: list[str] = field(default_factory=list)

    @property
    def outcomes(self) -> list[Outcome]:
        return self.result.outcomes if self.result else []

    @property
    def failed(self) -> list[Outcome]:
        return self.result.failed if self.result else []

    def counts(self) -> dict[str, int]:
        return self.result.counts() if self.result else {}
