"""Plan and apply: the imperative shell around the pure diff, safety and profile code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from . import diff as diffing
from . import safety
from .directory.base import STATE_CN, Directory, Marker, Operation
from .model import APPLY_ORDER, Account, Action, Change, Desired, Mailbox, Plan
from .problems import InputError, ReconcilerError
from .profiles import openldap as profile
from .settings import Settings
from .validation import Validation, validate


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


def compute(settings: Settings, directory: Directory, today: date) -> Computed:
    """Validate the declarations, read the directory, and diff them."""
    validation = valid_desired(settings, today)
    live = read_live(directory)
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


def ordered(changes: tuple[Change, ...]) -> list[Change]:
    """Creates and enables first, removals last."""
    return sorted(changes, key=lambda c: APPLY_ORDER.index(c.action))


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
    # Each phase completes before the next starts, so access is granted before any is taken away.
    for action in APPLY_ORDER:
        phase = [c for c in computed.plan.changes if c.action is action]
        operations: list[Operation] = []
        submitted: list[Change] = []
        for change in phase:
            key = change.address.lower()
            account = computed.live.get(key)
            if action is Action.REMOVE:
                refusal = safety.removal_refusal(account, now.date(), settings.policy.removal_grace_days)
                if refusal:
                    outcome = Outcome(change, refusal)
                    result.outcomes.append(outcome)
                    on_progress(outcome)
                    continue
            operations.append(profile.operation_for(change, desired.get(key), account, directory.base_dn, now=now))
            submitted.append(change)

        def done(index: int, error: str | None, submitted: list[Change] = submitted) -> None:
            outcome = Outcome(submitted[index], error)
            result.outcomes.append(outcome)
            on_progress(outcome)

        directory.write(operations, done)
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


def check_safety(computed: Computed, settings: Settings, *, force: bool) -> None:
    refusal = safety.threshold_refusal(computed.plan, computed.existing_managed, settings.policy)
    if refusal and not force:
        raise Refused(refusal)


def desired_state(validation: Validation) -> Desired:
    return validation.desired
