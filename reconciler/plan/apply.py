"""Plan and apply: the imperative shell around the pure diff, safety and profile code."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from reconciler.audit.provenance import Source
from reconciler.audit.provenance import actor as provenance_actor
from reconciler.audit.records import ApplyRecord, record_change, run_url
from reconciler.declarations.validation import Validation, validate
from reconciler.directory import profiles
from reconciler.directory.base import STATE_CN, Directory, DirectoryError, LockInfo, Marker, Operation
from reconciler.directory.ldapfilter import ignore_matcher
from reconciler.directory.profiles import Profile
from reconciler.model import APPLY_ORDER, Account, Action, Change, Desired, LiveView, Mailbox, Plan
from reconciler.plan import diff as diffing
from reconciler.plan import display, planfile, safety
from reconciler.plan.violations import live_violations
from reconciler.problems import InputError, ReconcilerError
from reconciler.settings import Settings


@dataclass(frozen=True, slots=True)
class Computed:
    validation: Validation
    live: dict[str, Account]
    plan: Plan
    last_apply: Marker | None
    view: LiveView | None = None

    @property
    def unit_names(self) -> dict[str, str]:
        return unit_names(self.validation.desired)

    @property
    def existing_managed(self) -> int:
        declared = {m.address.lower() for m in self.validation.desired.mailboxes()}
        return sum(1 for key in self.live if key in declared)


def read_live(directory: Directory, profile: Profile) -> dict[str, Account]:
    return profile.accounts(list(directory.search(profile.OBJECT_CLASS, profile.READ_ATTRIBUTES)))


def profile_of(settings: Settings) -> Profile:
    return profiles.get(settings.directory.profile)


def unit_names(desired: Desired) -> dict[str, str]:
    """unit id -> the name `ou` carries in the directory."""
    return {unit.id: unit.name for unit in desired.units}


def unit_ids(desired: Desired) -> dict[str, str]:
    """`ou` value -> unit id (the first unit of a name, should two share one)."""
    ids: dict[str, str] = {}
    for unit in desired.units:
        ids.setdefault(unit.name, unit.id)
    return ids


def read_live_view(directory: Directory, settings: Settings, desired: Desired | None = None) -> LiveView:
    """Every entry under base_dn through the profile: accounts, what is not a mailbox, what cannot be read;
    `directory.ignore` keeps service accounts out. ``desired`` maps `ou` (a unit name) back to unit ids."""
    profile = profile_of(settings)
    matcher, needed = ignore_matcher(settings.directory.ignore)
    attributes = (*profile.SCAN_ATTRIBUTES, *sorted(needed - {a.lower() for a in profile.SCAN_ATTRIBUTES}))
    entries = directory.search(profile.ALL_ENTRIES, attributes)
    return profile.read_entries(list(entries), unit_ids=unit_ids(desired) if desired is not None else None,
                                ignore=matcher)


def valid_desired(settings: Settings, today: date) -> Validation:
    result = validate(settings, today)
    if not result.ok:
        raise InputError(result.errors)
    return result


def compute(settings: Settings, directory: Directory, today: date) -> Computed:
    """Validate the declarations, read the directory, and diff them."""
    validation = valid_desired(settings, today)
    view = read_live_view(directory, settings, validation.desired)
    live = view.accounts
    plan = diffing.diff(validation.desired, live, today=today, grace_days=settings.policy.removal_grace_days,
                        tz=settings.clock().tz)
    declared = (m.address.lower() for m in validation.desired.mailboxes())
    plan = replace(plan, violations=live_violations(live, declared, settings.domains,
                                                    settings.policy.public_mail_domains,
                                                    unit_ids=unit_names(validation.desired)),
                   unreadable=view.unreadable, not_mailboxes=view.not_mailboxes)
    plan = display.annotate(plan, validation.desired, live)
    return Computed(validation, live, plan, directory.read_marker(STATE_CN), view)


@dataclass
class Outcome:
    change: Change
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ApplyResult:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            if outcome.ok:
                counts[outcome.change.action.value] = counts.get(outcome.change.action.value, 0) + 1
        return counts


def apply_plan(
    computed: Computed,
    settings: Settings,
    directory: Directory,
    *,
    now: datetime,
    on_progress: Callable[[Outcome], None] = lambda _o: None,
) -> ApplyResult:
    """Carry out every change in a safe order; a failure on one mailbox does not stop the others."""
    desired: dict[str, Mailbox] = {m.address.lower(): m for m in computed.validation.desired.mailboxes()}
    names = computed.unit_names
    result = ApplyResult()
    profile = profile_of(settings)

    def report(outcome: Outcome) -> None:
        result.outcomes.append(outcome)
        on_progress(outcome)

    # Each phase completes before the next starts, so access is granted before any is taken away.
    for action in APPLY_ORDER:
        submitted: list[Change] = []

        def operations(action: Action = action, submitted: list[Change] = submitted) -> Iterator[Operation]:
            # A generator: the directory starts writing while later operations are still being built.
            for change in computed.plan.changes:
                if change.action is not action:
                    continue
                key = change.address.lower()
                account = computed.live.get(key)
                if action is Action.REMOVE:
                    refusal = safety.removal_refusal(account, now.date(), settings.policy.removal_grace_days,
                                                           tz=now.tzinfo)
                    if refusal:
                        report(Outcome(change, refusal))
                        continue
                submitted.append(change)
                yield profile.operation_for(change, desired.get(key), account, directory.base_dn, now=now,
                                            unit_names=names)

        def done(index: int, error: str | None, submitted: list[Change] = submitted) -> None:
            report(Outcome(submitted[index], error))

        finished_before = len(result.outcomes)
        try:
            directory.write(operations(), done)
        except DirectoryError as err:
            if not any(o.ok for o in result.outcomes):
                raise  # nothing was changed: one clear line is the whole story
            # Part of the run went through before the directory failed: what did not finish failed.
            finished = {id(o.change) for o in result.outcomes[finished_before:]}
            for change in computed.plan.changes:
                if change.action is action and id(change) not in finished:
                    report(Outcome(change, str(err)))
    return result


def record_last_apply(directory: Directory, commit: str | None, now: datetime, result: ApplyResult) -> None:
    directory.write_marker(Marker(STATE_CN, {
        "commit": commit,
        "applied_at": now.isoformat(timespec="seconds"),
        "changes": len(result.outcomes),
        "failed": len(result.failed),
    }))


class Refused(ReconcilerError):
    pass


@contextmanager
def apply_lock(directory: Directory, *, holder: str, take: bool, break_stale: bool,
               warnings: list[str]) -> Iterator[LockInfo | bool | None]:
    """Hold the apply lock in the directory for the block; yields what --break-lock found (None: not asked,
    False: no lock was held). The directory is closed afterwards; a lock that could not be released is
    added to ``warnings``."""
    locked = False
    try:
        broken: LockInfo | bool | None = None
        if break_stale:
            broken = directory.break_lock() or False
        if take:
            directory.acquire_lock(holder)
            locked = True
        yield broken
    finally:
        try:
            if locked:
                directory.release_lock()
        except DirectoryError as err:
            # Never hide what happened inside the block; say how to clean up instead.
            warnings.append(f"the apply lock was not released ({err}); remove it with "
                            "`reconciler apply --break-lock`")
        finally:
            directory.close()


def only_scheduled(plan: Plan) -> Plan:
    """What fell due, decided when its declaration was reviewed and merged: removals whose grace period is
    over and disables of expired or tombstoned mailboxes. Anything else (drift) waits for a person."""
    due = tuple(c for c in plan.changes if c.reason and c.action in (Action.DISABLE, Action.REMOVE))
    return replace(plan, changes=due, reminders=())


def prepare(settings: Settings, directory: Directory, today: date, *, expected_checksum: str | None,
            force: bool, scheduled: bool = False) -> Computed:
    """Compute the plan and refuse it when it is not the reviewed one or trips a safety threshold;
    ``scheduled``: keep only what fell due (see only_scheduled)."""
    computed = compute(settings, directory, today)
    if scheduled:
        computed = replace(computed, plan=only_scheduled(computed.plan))
    if expected_checksum is not None and planfile.checksum(computed.plan) != expected_checksum:
        raise Refused("the directory or the declarations changed since the plan was saved (checksum differs); "
                      "plan again and review")
    refusal = safety.threshold_refusal(computed.plan, computed.existing_managed, settings.policy)
    if refusal and not force:
        raise Refused(refusal)
    return computed


def execute(computed: Computed, settings: Settings, directory: Directory, source: Source, *, now: datetime,
            on_progress: Callable[[Outcome], None], warnings: list[str]) -> tuple[ApplyResult, ApplyRecord]:
    """Apply the plan, remember the last apply in the directory, and return what the apply record says.
    A last-apply marker the directory would not take is added to ``warnings``."""
    result = apply_plan(computed, settings, directory, now=now, on_progress=on_progress)
    record = ApplyRecord(
        commit=source.commit, applied_at=now.isoformat(timespec="seconds"), actor=provenance_actor(),
        run_url=run_url(os.environ), directory=directory.describe(),
        changes=[record_change(o.change, o.error) for o in result.outcomes])
    try:
        record_last_apply(directory, source.commit if source.reviewed else None, now, result)
    except DirectoryError as err:  # the changes are made: their record must still reach git
        warnings.append(f"the directory does not record this apply as its last one: {err}")
    return result, record
