"""desired x live -> Plan. Pure: the same inputs always give the same plan.

The lifecycle decides the action for each declared mailbox:

=============  ==================  =========================================
declared       live account        action
=============  ==================  =========================================
active         none                create (active)
active         disabled            enable (with any field updates)
active         active, differs     update
disabled       none                create (disabled: the address stays reserved)
disabled       active              disable (with any field updates)
disabled       disabled, differs   update
removed        none                nothing
removed        active              disable (removal follows after the grace period)
removed        disabled            remove once disabled for ``grace_days``, else deferred
=============  ==================  =========================================

Live accounts that no file declares are *unmanaged*: listed, never planned.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from reconciler.model import (
    APPLY_ORDER,
    Account,
    Action,
    Change,
    Deferred,
    Desired,
    Mailbox,
    Plan,
    Status,
    managed_fields,
)


def _state(fields: Mapping[str, object], status: Status) -> dict[str, object]:
    return {**fields, "status": status.value}


def _delta(before: dict[str, object], after: dict[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def removal_eligible_on(account: Account, grace_days: int) -> date | None:
    """The first day a disabled account may be removed; None when it is not disabled."""
    if account.disabled_since is None:
        return None
    return account.disabled_since.date() + timedelta(days=grace_days)


def _change_for(mailbox: Mailbox, account: Account | None, today: date, grace_days: int) -> Change | Deferred | None:
    wanted = managed_fields(mailbox)
    if account is None:
        if mailbox.status is Status.REMOVED:
            return None
        return Change(Action.CREATE, mailbox.address, mailbox.unit, None, _state(wanted, mailbox.status))

    live_status = account.status
    before_full = _state(account.fields, live_status)
    if mailbox.status is Status.REMOVED:
        if live_status is Status.ACTIVE:
            target = Status.DISABLED
        else:
            eligible = removal_eligible_on(account, grace_days)
            assert eligible is not None
            if today < eligible:
                return Deferred(mailbox.address, mailbox.unit, eligible)
            return Change(Action.REMOVE, mailbox.address, mailbox.unit, before_full, None)
    else:
        target = mailbox.status

    before, after = _delta(before_full, _state(wanted, target))
    if not after:
        return None
    if live_status is not target:
        action = Action.ENABLE if target is Status.ACTIVE else Action.DISABLE
    else:
        action = Action.UPDATE
    return Change(action, mailbox.address, mailbox.unit, before, after)


def diff(desired: Desired, live: Mapping[str, Account], *, today: date, grace_days: int) -> Plan:
    """Compute the plan that brings ``live`` (keyed by lowercase address) to ``desired``."""
    changes: list[Change] = []
    deferred: list[Deferred] = []
    unchanged = 0
    declared: set[str] = set()
    for mailbox in desired.mailboxes():
        address = mailbox.address
        key = address if address.islower() else address.lower()  # no lowercase copy of each address
        declared.add(key)
        outcome = _change_for(mailbox, live.get(key), today, grace_days)
        if outcome is None:
            unchanged += 1
        elif isinstance(outcome, Deferred):
            deferred.append(outcome)
        else:
            changes.append(outcome)
    unmanaged = tuple(sorted(live[k].address for k in live.keys() - declared))
    changes.sort(key=lambda c: (APPLY_ORDER.index(c.action), c.address))
    return Plan(tuple(changes), unchanged, unmanaged, tuple(sorted(deferred, key=lambda d: d.address)))
