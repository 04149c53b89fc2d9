"""Plan and apply: the imperative shell around the pure diff, safety and profile code."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from reconciler.audit.records import ApplyRecord, record_change, run_url
from reconciler.declarations.desired import cyclic_gc_paused
from reconciler.declarations.validation import Validation, validate
from reconciler.directory.base import STATE_CN, Directory, DirectoryError, LockInfo, Marker, Operation
from reconciler.directory.profiles import openldap as profile
from reconciler.model import APPLY_ORDER, Account, Action, Change, Mailbox, Plan
from reconciler.plan import diff as diffing
from reconciler.plan import liveread, planfile, safety
from reconciler.problems import InputError, ReconcilerError
from reconciler.settings import Settings

if TYPE_CHECKING:  # provenance imports gitpython, which plan does not need
    from reconciler.audit.provenance import Source


@dataclass(frozen=True, slots=True)
class Computed:
    validation: Validation
    live: dict[str, Account]
    plan: Plan
    last_apply: Marker | None

    @property
    def existing_managed(self) -> int:
        declared = {m.address.lower() for m in self.validation.desired.mailboxes()}
        return sum(1 for key in self.live if key in declared)


def read_live(directory: Directory) -> dict[str, Account]:
    # Entries are turned into accounts as they arrive: the entries themselves are never all kept.
    with cyclic_gc_paused():  # a bulk load of acyclic objects: see cyclic_gc_paused
        return profile.accounts(directory.search(profile.OBJECT_CLASS, profile.READ_ATTRIBUTES))


def valid_desired(settings: Settings, today: date) -> Validation:
    result = validate(settings, today)
    if not result.ok:
        raise InputError(result.problems)
    return result


def compute(settings: Settings, directory: Directory, today: date) -> Computed:
    """Validate the declarations, read the directory (both at once), and diff them.

    Invalid declarations are reported first, as if the directory had not been read.
    """
    # One pause around validation, the read (when it is a thread of this process) and the diff: a pause
    # inside each would end when the first of them finishes.
    with cyclic_gc_paused():
        reading = liveread.start(directory, read_live)
        try:
            validation = valid_desired(settings, today)
        finally:
            reading.wait()  # never leave a search running on a connection the caller is about to close
        live = reading.result()
        plan = diffing.diff(validation.desired, live, today=today, grace_days=settings.policy.removal_grace_days)
    return Computed(validation, live, plan, directory.read_marker(STATE_CN))


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
    result = ApplyResult()

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
                    refusal = safety.removal_refusal(account, now.date(), settings.policy.removal_grace_days)
                    if refusal:
                        report(Outcome(change, refusal))
                        continue
                submitted.append(change)
                yield profile.operation_for(change, desired.get(key), account, directory.base_dn, now=now)

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
def apply_lock(directory: Directory, *, holder: str, take: bool, break_stale: bool) -> Iterator[LockInfo | bool | None]:
    """Hold the apply lock in the directory for the block; yields what --break-lock found (None: not asked,
    False: no lock was held). The directory is closed afterwards."""
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
            print(f"warning: the apply lock was not released ({err}); remove it with "
                  "`reconciler apply --break-lock`", file=sys.stderr)
        finally:
            directory.close()


def prepare(settings: Settings, directory: Directory, today: date, *, expected_checksum: str | None,
            force: bool) -> Computed:
    """Compute the plan and refuse it when it is not the reviewed one or trips a safety threshold."""
    computed = compute(settings, directory, today)
    if expected_checksum is not None and planfile.checksum(computed.plan) != expected_checksum:
        raise Refused("the directory or the declarations changed since the plan was saved (checksum differs); "
                      "plan again and review")
    refusal = safety.threshold_refusal(computed.plan, computed.existing_managed, settings.policy)
    if refusal and not force:
        raise Refused(refusal)
    return computed


def execute(computed: Computed, settings: Settings, directory: Directory, source: Source, *, now: datetime,
            on_progress: Callable[[Outcome], None]) -> tuple[ApplyResult, ApplyRecord]:
    """Apply the plan, remember the last apply in the directory, and return what the apply record says."""
    from reconciler.audit.provenance import actor as provenance_actor

    # The embedded LDIF directory writes its file once for the changes and the marker together
    # (a save that fails raises: nothing was written). A server writes as it goes.
    single_save = getattr(directory, "single_save", nullcontext)
    with single_save():
        result = apply_plan(computed, settings, directory, now=now, on_progress=on_progress)
        try:
            record_last_apply(directory, source.commit if source.reviewed else None, now, result)
        except DirectoryError as err:  # the changes are made: their record must still reach git
            print(f"warning: the directory does not record this apply as its last one: {err}", file=sys.stderr)
    record = ApplyRecord(
        commit=source.commit, applied_at=now.isoformat(timespec="seconds"), actor=provenance_actor(),
        run_url=run_url(os.environ), directory=directory.describe(),
        changes=[record_change(o.change, o.error) for o in result.outcomes])
    return result, record
