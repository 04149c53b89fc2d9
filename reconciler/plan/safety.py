"""May this plan run? Thresholds and grace periods, as pure functions (octoDNS-style safety checks)."""

from __future__ import annotations

from datetime import date, tzinfo

from reconciler.clock import date_text
from reconciler.i18n import _
from reconciler.model import Account, Action, Plan
from reconciler.plan.diff import removal_eligible_on
from reconciler.settings import PolicySettings


def threshold_refusal(plan: Plan, existing_managed: int, policy: PolicySettings) -> str | None:
    """Refuse when disables plus removals exceed max_disable_fraction of existing managed accounts."""
    taken_away = plan.count(Action.DISABLE) + plan.count(Action.REMOVE)
    if existing_managed < policy.threshold_min_existing or taken_away == 0:
        return None
    fraction = taken_away / existing_managed
    if fraction <= policy.max_disable_fraction:
        return None
    return _("the plan disables or removes {count} of {existing} managed accounts ({fraction}, over "
             "max_disable_fraction {limit}); review it and re-run with --force if this is intended").format(
        count=taken_away, existing=existing_managed, fraction=f"{fraction:.0%}",
        limit=f"{policy.max_disable_fraction:.0%}")


def removal_refusal(account: Account | None, today: date, grace_days: int, tz: tzinfo | None = None) -> str | None:
    """Why an account may not be deleted today, or None. Checked again just before each delete."""
    if account is None:
        return "no such account in the directory"
    eligible = removal_eligible_on(account, grace_days, tz)
    if eligible is None:
        return "refusing to remove an account that is not disabled in the directory"
    if today < eligible:
        assert account.disabled_since is not None
        since = account.disabled_since.astimezone(tz) if tz is not None else account.disabled_since
        return (f"refusing to remove: disabled since {date_text(since.date())}, "
                f"removal allowed from {date_text(eligible)} (removal_grace_days {grace_days})")
    return None
