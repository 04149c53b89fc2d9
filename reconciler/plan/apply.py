"""Plan and apply: the imperative shell around the pure diff, safety and profile code."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from reconciler.audit.gitrepo import GitRepo
from reconciler.audit.history import apply_records
from reconciler.audit.provenance import Source
from reconciler.audit.provenance import actor as provenance_actor
from reconciler.audit.records import ApplyRecord, record_change, run_url
from reconciler.declarations import desired as desired_files
from reconciler.declarations.validation import Validation, validate
from reconciler.directory.base import STATE_CN, Directory, DirectoryError, LockInfo, Marker, Operation
from reconciler.directory.profiles import openldap as profile
from reconciler.model import APPLY_ORDER, Account, Action, Change, Desired, Mailbox, Plan
from reconciler.plan import diff as diffing
from reconciler.plan import ownership, planfile, safety
from reconciler.problems import InputError, Problem, ReconcilerError
from reconciler.settings import Settings


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
    return profile.accounts(list(directory.search(profile.OBJECT_CLASS, profile.READ_ATTRIBUTES)))


def valid_desired(settings: Settings, today: date) -> Validation:
    result = validate(settings, today)
    if not result.ok:
        raise InputError(result.problems)
    return result


def compute(settings: Settings, directory: Directory, today: date, *, base: Desired | None = None) -> Computed:
    """Validate the declarations, read the directory, and diff them.

    Refused (InputError, one located line each): a declared address or alias that another live
    account answers to; with ``base`` (the pull request's base revision), an adopted account not
    declared as it is live.
    """
    validation = valid_desired(settings, today)
    live = read_live(directory)
    plan = diffing.diff(validation.desired, live, today=today, grace_days=settings.policy.removal_grace_days)
    conflicts = live_problems(validation.desired, live, plan, base)
    if conflicts:
        raise InputError(desired_files.locate_in_files(conflicts, settings.root))
    return Computed(validation, live, plan, directory.read_marker(STATE_CN))


def live_problems(desired: Desired, live: dict[str, Account], plan: Plan | None,
                  base: Desired | None) -> list[Problem]:
    """What the declarations may not do to this live directory (address takeover; adoption with a
    lifecycle change when the base revision is known)."""
    found = ownership.address_conflicts(desired, live, plan)
    if base is not None:
        found += safety.adoption_problems(base, desired, live)
    return found


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
            force: bool, now: datetime | None = None,
            history: ApplyHistory | Callable[[Marker | None], ApplyHistory | None] | None = None) -> Computed:
    """Compute the plan and refuse it when it is not the reviewed one or trips a safety threshold.

    ``history`` (the declarations of the last applied commit and the recent apply records, see
    ``apply_history``, or a function of the directory's last-apply marker that reads them) gives the
    thresholds their denominator (the accounts managed before this change) and the rolling window;
    without it, the live accounts declared now are the denominator.
    """
    computed = compute(settings, directory, today)
    if callable(history):
        history = history(computed.last_apply)
    if expected_checksum is not None and planfile.checksum(computed.plan) != expected_checksum:
        raise Refused("the directory or the declarations changed since the plan was saved (checksum differs); "
                      "plan again and review")
    managed = computed.existing_managed
    recent = 0
    if history is not None:
        if history.before is not None:
            managed = safety.managed_before(computed.live, history.before)
        moment = now or datetime.combine(today, datetime.min.time(), UTC)
        recent = safety.recent_taken_away(
            history.records, moment - timedelta(days=settings.policy.threshold_window_days))
    found = safety.refusals(computed.plan, managed, settings.policy, recent)
    if found and not force:
        raise Refused(found[0])
    return computed


@dataclass(frozen=True, slots=True)
class ApplyHistory:
    """What earlier applies tell the thresholds."""

    #: the declarations of the last applied commit (the accounts managed before this change), if known
    before: Desired | None
    records: list[ApplyRecord]


def apply_history(settings: Settings, last_apply: Marker | None) -> ApplyHistory | None:
    """The last applied commit's declarations and the apply records, from git; None outside git."""
    try:
        repo = GitRepo(settings.root)
        records = apply_records(repo)
    except ReconcilerError:
        return None
    commit = last_apply.data.get("commit") if last_apply is not None else None
    before = None
    if isinstance(commit, str) and commit:
        try:
            before = repo.desired_at_rev(commit, settings.mailboxes_dir)
        except ReconcilerError:
            before = None
    return ApplyHistory(before, records)


def execute(computed: Computed, settings: Settings, directory: Directory, source: Source, *, now: datetime,
            on_progress: Callable[[Outcome], None]) -> tuple[ApplyResult, ApplyRecord]:
    """Apply the plan, remember the last apply in the directory, and return what the apply record says."""
    result = apply_plan(computed, settings, directory, now=now, on_progress=on_progress)
    record = ApplyRecord(
        commit=source.commit, applied_at=now.isoformat(timespec="seconds"), actor=provenance_actor(),
        run_url=run_url(os.environ), directory=directory.describe(),
        changes=[record_change(o.change, o.error) for o in result.outcomes])
    try:
        record_last_apply(directory, source.commit if source.reviewed else None, now, result)
    except DirectoryError as err:  # the changes are made: their record must still reach git
        print(f"warning: the directory does not record this apply as its last one: {err}", file=sys.stderr)
    return result, record
