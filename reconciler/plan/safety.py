"""May this plan run? Thresholds and grace periods, as pure functions (octoDNS-style safety checks).

Every threshold is a share of the accounts managed *before* the change: accounts a pull request
adopts (declares for the first time) do not count, or adopting 300 accounts would let the same pull
request disable 30 more. Disables and removals are also limited over a rolling window of days, so a
mass disable cannot be split into several small applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, tzinfo

from reconciler.audit.records import ApplyRecord
from reconciler.clock import date_text
from reconciler.i18n import _
from reconciler.model import Account, Action, Desired, Plan, Status
from reconciler.plan.diff import removal_eligible_on
from reconciler.problems import Problem
from reconciler.settings import PolicySettings

TAKEN_AWAY = (Action.DISABLE.value, Action.REMOVE.value)


def _over(count: int, managed: int, limit: float, policy: PolicySettings) -> float | None:
    """The fraction when ``count`` of ``managed`` exceeds ``limit`` and thresholds apply; else None."""
    if managed < policy.threshold_min_existing or count == 0:
        return None
    if managed == 0:
        return 1.0
    fraction = count / managed
    if fraction <= limit:
        return None
    return fraction


def threshold_refusal(plan: Plan, existing_managed: int, policy: PolicySettings) -> str | None:
    """Refuse when disables plus removals exceed max_disable_fraction of existing managed accounts."""
    taken_away = plan.count(Action.DISABLE) + plan.count(Action.REMOVE)
    fraction = _over(taken_away, existing_managed, policy.max_disable_fraction, policy)
    if fraction is None:
        return None
    return _("the plan disables or removes {count} of {existing} managed accounts ({fraction}, over "
             "max_disable_fraction {limit}); review it and re-run with --force if this is intended").format(
        count=taken_away, existing=existing_managed, fraction=f"{fraction:.0%}",
        limit=f"{policy.max_disable_fraction:.0%}")


def update_refusal(plan: Plan, existing_managed: int, policy: PolicySettings) -> str | None:
    """Refuse when updates exceed max_update_fraction of the managed accounts (a profile bug rewriting all)."""
    updates = plan.count(Action.UPDATE)
    fraction = _over(updates, existing_managed, policy.max_update_fraction, policy)
    if fraction is None:
        return None
    return _("the plan updates {count} of {existing} managed accounts ({fraction}, over "
             "max_update_fraction {limit}); review it and re-run with --force if this is intended").format(
        count=updates, existing=existing_managed, fraction=f"{fraction:.0%}", limit=f"{policy.max_update_fraction:.0%}")


def window_refusal(plan: Plan, existing_managed: int, policy: PolicySettings, recent_taken_away: int) -> str | None:
    """Refuse when this plan's disables and removals, with those applied in the last threshold_window_days,
    exceed max_disable_fraction: small applies in a row add up."""
    if policy.threshold_window_days <= 0:
        return None
    taken_away = plan.count(Action.DISABLE) + plan.count(Action.REMOVE)
    if taken_away == 0:
        return None
    total = taken_away + recent_taken_away
    fraction = _over(total, existing_managed, policy.max_disable_fraction, policy)
    if fraction is None:
        return None
    return _("with the {recent} disables and removals applied in the last {days} days, the plan's {count} make "
             "{total} of {existing} managed accounts ({fraction}, over max_disable_fraction {limit} per "
             "threshold_window_days); review it and re-run with --force if this is intended").format(
        recent=recent_taken_away, days=policy.threshold_window_days, count=taken_away, total=total,
        existing=existing_managed, fraction=f"{fraction:.0%}", limit=f"{policy.max_disable_fraction:.0%}")


def refusals(plan: Plan, existing_managed: int, policy: PolicySettings, recent_taken_away: int = 0) -> list[str]:
    """Every threshold the plan trips (each overridden only by --force)."""
    found = [threshold_refusal(plan, existing_managed, policy),
             window_refusal(plan, existing_managed, policy, recent_taken_away),
             update_refusal(plan, existing_managed, policy)]
    return [reason for reason in found if reason]


def recent_taken_away(records: Iterable[ApplyRecord], since: datetime) -> int:
    """Disables and removals that reached the directory at or after ``since``, from the apply records."""
    count = 0
    for record in records:
        try:
            applied = datetime.fromisoformat(record.applied_at)
        except ValueError:
            continue
        if applied.tzinfo is None or applied < since:
            continue
        for change in record.changes:
            if isinstance(change, dict) and change.get("action") in TAKEN_AWAY and change.get("outcome") == "ok":
                count += 1
    return count


def managed_before(live: Mapping[str, Account], before: Desired) -> int:
    """Live accounts that ``before`` (the base revision, or the last applied commit) already declared."""
    declared = {m.address.lower() for m in before.mailboxes()}
    return sum(1 for key in live if key in declared)


def adoption_problems(base: Desired, head: Desired, live: Mapping[str, Account]) -> list[Problem]:
    """A live account declared for the first time (adopted) is declared as it is live.

    Adoption and lifecycle changes come in separate pull requests: an adopted account that is active
    stays active, one disabled (perhaps by hand, years ago) stays disabled, and none is declared
    removed, so a merge can never adopt and delete at once. One exception: a ``legacy`` account (an
    address the policy no longer allows, at a public provider or outside the official domains) is
    declared only to retire it, and may not be declared active at all; it may be adopted as disabled.
    Its removal still comes in a later pull request, after the grace period.
    """
    before = {m.address.lower() for m in base.mailboxes()}
    problems = []
    for mailbox in head.mailboxes():
        key = mailbox.address.lower()
        account = live.get(key)
        if key in before or account is None or mailbox.status is account.status or mailbox.source is None:
            continue
        if mailbox.legacy and mailbox.status is Status.DISABLED:
            continue  # retiring what may not stay: the only way a legacy account can be declared
        problems.append(Problem(
            mailbox.source.file,
            _("this declaration adopts a live account that no file declared before; it is {status} "
              "in the directory, so declare it status: {status} here and change its lifecycle in a "
              "later pull request").format(status=account.status.value),
            ("mailboxes", mailbox.source.index, "status"), rule="adoption", subject=mailbox.address))
    return problems


def removal_refusal(account: Account | None, today: date, grace_days: int, tz: tzinfo | None = None) -> str | None:
    """Why an account may not be deleted today, or None. Checked again just before each delete."""
    if account is None:
        return _("no such account in the directory")
    eligible = removal_eligible_on(account, grace_days, tz)
    if eligible is None:
        return _("refusing to remove an account that is not disabled in the directory")
    if today < eligible:
        assert account.disabled_since is not None
        since = account.disabled_since.astimezone(tz) if tz is not None else account.disabled_since
        return _("refusing to remove: disabled since {since}, removal allowed from {eligible} "
                 "(removal_grace_days {days})").format(since=date_text(since.date()), eligible=date_text(eligible),
                                                       days=grace_days)
    return None
