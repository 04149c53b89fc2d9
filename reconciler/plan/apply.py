"""Plan and apply: the imperative shell around the pure diff, safety and profile code."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from reconciler.audit.records import ApplyRecord, record_change, run_url
from reconciler.declarations import desired as desired_files
from reconciler.declarations.adopt import unit_ids, unit_names
from reconciler.declarations.desired import cyclic_gc_paused
from reconciler.declarations.validation import Validation, validate
from reconciler.directory.base import (
    ASSERTION_FAILED_TEXT,
    STATE_CN,
    Delete,
    Directory,
    DirectoryError,
    Entry,
    LockInfo,
    Marker,
    Operation,
    UnknownOutcome,
)
from reconciler.directory.profiles import Profile
from reconciler.i18n import N_, _
from reconciler.model import APPLY_ORDER, Account, Action, Change, Desired, LiveView, Mailbox, Plan
from reconciler.plan import diff as diffing
from reconciler.plan import display, liveread, ownership, planfile, safety, verify
from reconciler.plan.reading import map_units, profile_of, read_live, read_live_view  # noqa: F401
from reconciler.plan.serverclock import ClockSkew, directory_clock  # noqa: F401  (apply's clock)
from reconciler.plan.violations import live_violations
from reconciler.problems import InputError, Problem, ReconcilerError
from reconciler.settings import Settings

if TYPE_CHECKING:  # provenance and the apply history import gitpython, which plan does not need
    from reconciler.audit.provenance import Source
    from reconciler.plan.thresholds import ApplyHistory


@dataclass(frozen=True, slots=True)
class Computed:
    validation: Validation
    live: dict[str, Account]
    plan: Plan
    last_apply: Marker | None
    view: LiveView | None = None
    #: the declarations of the base revision the plan was checked against, when one was given
    base: Desired | None = None

    @property
    def unit_names(self) -> dict[str, str]:
        return unit_names(self.validation.desired)

    @property
    def existing_managed(self) -> int:
        declared = {m.address.lower() for m in self.validation.desired.mailboxes()}
        return sum(1 for key in self.live if key in declared)


def valid_desired(settings: Settings, today: date) -> Validation:
    """The declarations when they are valid (warnings, which plan and apply do not show, unlocated);
    InputError with the located errors otherwise."""
    result = validate(settings, today, locate_warnings=False)
    if not result.ok:
        raise InputError(result.errors)
    return result


def compute(settings: Settings, directory: Directory, today: date, *,
            base: Desired | Callable[..., Desired] | None = None) -> Computed:
    """Validate the declarations, read the directory, and diff them.

    Refused (InputError, one located line each): a declared address or alias that another live
    account answers to; with ``base`` (the pull request's base revision), an adopted account not
    declared as it is live.
    """
    # The directory is read while the declarations are validated (see liveread), with the cyclic collector
    # paused around both and the diff: a pause inside each would end when the first of them finishes.
    # Invalid declarations are reported first, as if the directory had not been read.
    with cyclic_gc_paused():
        reading = liveread.start(directory, lambda target: read_live_view(target, settings))
        try:
            validation = valid_desired(settings, today)
        finally:
            reading.wait()  # never leave a search running on a connection the caller is about to close
        view = reading.result()
        map_units(view, validation.desired, profile_of(settings))
        live = view.accounts
        plan = diffing.diff(validation.desired, live, today=today, grace_days=settings.policy.removal_grace_days,
                            tz=settings.clock().tz)
    declared = (m.address.lower() for m in validation.desired.mailboxes())
    plan = replace(plan, violations=live_violations(live, declared, settings.domains,
                                                    settings.policy.public_mail_domains,
                                                    unit_ids=unit_names(validation.desired)),
                   unreadable=view.unreadable, not_mailboxes=view.not_mailboxes)
    if callable(base):  # read once the work tree is known: unchanged unit files are not parsed again
        base = base(reuse=validation.desired)
    conflicts = live_problems(validation.desired, live, plan, base)
    if conflicts:
        raise InputError(desired_files.locate_in_files(conflicts, settings.root))
    plan = display.annotate(plan, validation.desired, live)
    return Computed(validation, live, plan, directory.read_marker(STATE_CN), view, base)


#: the outcome error of a change that was never sent because the apply was asked to stop
NOT_SENT = N_("not sent: the apply was interrupted before this change")


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
    #: "reread": the outcome was lost with the connection and established by reading the entry again
    verified: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def unknown(self) -> bool:
        return isinstance(self.error, UnknownOutcome)

    @property
    def sent(self) -> bool:
        return self.error not in (NOT_SENT, _(NOT_SENT))


@dataclass
class ApplyResult:
    outcomes: list[Outcome] = field(default_factory=list)
    #: the apply stopped early because it was asked to (a signal)
    interrupted: bool = False

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def applied(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

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
    should_stop: Callable[[], bool] = lambda: False,
) -> ApplyResult:
    """Carry out every change in a safe order; a failure on one mailbox does not stop the others.

    ``should_stop`` is asked before each operation is handed over: once it says yes, nothing more is
    sent (the answers in flight are still collected) and the remaining changes are recorded as not
    sent. Outcomes lost with the connection are re-read from the directory before they are returned.
    """
    desired: dict[str, Mailbox] = {m.address.lower(): m for m in computed.validation.desired.mailboxes()}
    names = computed.unit_names
    result = ApplyResult()
    profile = profile_of(settings)
    grace_days = settings.policy.removal_grace_days
    #: the newest disable time that allows a removal today (the end of the day, in the clock's zone, that is
    #: grace_days before today), checked by the directory itself at delete time
    removable_until = profile.generalized_time(datetime.combine(now.date() - timedelta(days=grace_days),
                                                                time(23, 59, 59), tzinfo=now.tzinfo or UTC))
    dns: dict[int, str] = {}
    fatal: DirectoryError | None = None

    def report(outcome: Outcome) -> None:
        if outcome.change.action is Action.REMOVE and outcome.error and ASSERTION_FAILED_TEXT in outcome.error:
            outcome.error = _("refusing to remove: re-read at delete time, the account is no longer disabled in the "
                              "directory since at least {days} day(s) (removal_grace_days); it was not deleted").format(
                days=grace_days)
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
                if result.interrupted or should_stop():
                    result.interrupted = True
                    return
                key = change.address.lower()
                account = computed.live.get(key)
                if action is Action.REMOVE:
                    refusal = safety.removal_refusal(account, now.date(), grace_days, tz=now.tzinfo)
                    if refusal:
                        report(Outcome(change, refusal))
                        continue
                submitted.append(change)
                operation = profile.operation_for(change, desired.get(key), account, directory.base_dn, now=now,
                                                  unit_names=names)
                if isinstance(operation, Delete):
                    operation = Delete(operation.dn, still_before=(profile.DISABLED_MARKER, removable_until))
                dns[id(change)] = operation.dn
                yield operation

        def done(index: int, error: str | None, submitted: list[Change] = submitted) -> None:
            report(Outcome(submitted[index], error))

        finished_before = len(result.outcomes)
        try:
            directory.write(operations(), done)
        except DirectoryError as err:
            fatal = fatal or err
            # Part of the run went through before the directory failed: what was sent without an answer is
            # unknown (re-read below), what was not sent failed.
            finished = {id(o.change) for o in result.outcomes[finished_before:]}
            sent = {id(change) for change in submitted}
            for change in computed.plan.changes:
                if change.action is action and id(change) not in finished:
                    report(Outcome(change, UnknownOutcome(str(err)) if id(change) in sent else str(err)))
        if result.interrupted:
            break
    reported = {id(o.change) for o in result.outcomes}
    for change in computed.plan.changes:
        if id(change) not in reported:
            report(Outcome(change, _(NOT_SENT)))
    ids = unit_ids(computed.validation.desired)
    _reread_unknown(result, directory, dns, profile,
                    lambda entry: profile.account_from_entry(entry, unit_ids=ids))
    if fatal is not None and not any(o.ok or o.unknown for o in result.outcomes):
        raise fatal  # nothing was changed: one clear line is the whole story
    return result


def _reread_unknown(result: ApplyResult, directory: Directory, dns: dict[int, str], profile: Profile,
                    to_account: Callable[[Entry], Account]) -> None:
    """Replace each outcome lost with the connection by what the directory now shows."""
    unknown = [o for o in result.outcomes if o.unknown and id(o.change) in dns]
    if not unknown:
        return
    found = verify.reread([(o.change, dns[id(o.change)]) for o in unknown],
                          lambda dn: directory.read_entry(dn, profile.READ_ATTRIBUTES), to_account)
    for outcome, reread in zip(unknown, found, strict=True):
        if reread.applied is True:
            outcome.error, outcome.verified = None, "reread"
        elif reread.applied is False:
            outcome.error, outcome.verified = _("{error}; re-read: not applied").format(error=outcome.error), "reread"
        else:
            outcome.error = UnknownOutcome(_("{error}; the entry could not be re-read: {detail}").format(
                error=outcome.error, detail=reread.detail))


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
               warnings: list[str], force: bool = False) -> Iterator[LockInfo | bool | None]:
    """Hold the apply lock in the directory for the block; yields what --break-lock found (None: not asked,
    False: no lock was held). ``force`` breaks a lock whose holder looks alive. The directory is closed
    afterwards; a lock that could not be released is added to ``warnings``."""
    locked = False
    try:
        broken: LockInfo | bool | None = None
        if break_stale:
            broken = directory.break_lock(force=force) or False
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
            warnings.append(_("the apply lock was not released ({error}); remove it with "
                              "`reconciler apply --break-lock`").format(error=err))
        finally:
            directory.close()


def only_scheduled(plan: Plan) -> Plan:
    """What fell due, decided when its declaration was reviewed and merged: removals whose grace period is
    over and disables of expired or tombstoned mailboxes. Anything else (drift) waits for a person."""
    due = tuple(c for c in plan.changes if c.reason and c.action in (Action.DISABLE, Action.REMOVE))
    return replace(plan, changes=due, reminders=())


def prepare(settings: Settings, directory: Directory, today: date, *, expected_checksum: str | None,
            force: bool, scheduled: bool = False, now: datetime | None = None,
            history: ApplyHistory | Callable[..., ApplyHistory | None] | None = None) -> Computed:
    """Compute the plan and refuse it when it is not the reviewed one or trips a safety threshold;
    ``scheduled``: keep only what fell due (see only_scheduled).

    ``history`` (the declarations of the last applied commit and the recent apply records, see
    ``apply_history``, or a function of the directory's last-apply marker that reads them) gives the
    thresholds their denominator (the accounts managed before this change) and the rolling window;
    without it, the live accounts declared now are the denominator.
    """
    computed = compute(settings, directory, today)
    if scheduled:
        computed = replace(computed, plan=only_scheduled(computed.plan))
    if callable(history):
        history = history(computed.last_apply, reuse=computed.validation.desired)
    if expected_checksum is not None and planfile.checksum(computed.plan) != expected_checksum:
        raise Refused(_("the directory or the declarations changed since the plan was saved (checksum differs); "
                        "plan again and review"))
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


def execute(computed: Computed, settings: Settings, directory: Directory, source: Source, *, now: datetime,
            on_progress: Callable[[Outcome], None], warnings: list[str] | None = None,
            should_stop: Callable[[], bool] = lambda: False) -> tuple[ApplyResult, ApplyRecord]:
    """Apply the plan, remember the last apply in the directory, and return what the apply record says.
    A last-apply marker the directory would not take is added to ``warnings``."""
    from reconciler.audit.provenance import actor as provenance_actor

    # The embedded LDIF directory writes its file once for the changes and the marker together
    # (a save that fails raises: nothing was written). A server writes as it goes.
    single_save = getattr(directory, "single_save", nullcontext)
    with single_save():
        result = apply_plan(computed, settings, directory, now=now, on_progress=on_progress,
                            should_stop=should_stop)
        try:
            record_last_apply(directory, source.commit if source.reviewed else None, now, result)
        except DirectoryError as err:  # the changes are made: their record must still reach git
            if warnings is None:
                raise
            warnings.append(_("the directory does not record this apply as its last one: {error}").format(
                error=err))
    record = ApplyRecord(
        commit=source.commit, applied_at=now.isoformat(timespec="seconds"), actor=provenance_actor(),
        run_url=run_url(os.environ), directory=directory.describe(),
        changes=[record_change(o.change, o.error, verified=o.verified, sent=o.sent, unknown=o.unknown)
                 for o in result.outcomes])
    return result, record
