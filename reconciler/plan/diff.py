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

A ``legacy`` mailbox (an address the policy no longer allows, declared disabled or removed to retire
it) is never created.
An active mailbox past its ``expires`` date is planned as if declared disabled, with the reason
("expired on 27/11/2026"): expiry acts instead of blocking validation.

Live accounts that no file declares are *unmanaged*: listed, never planned.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta, tzinfo

from reconciler.clock import date_text
from reconciler.i18n import _
from reconciler.model import (
    APPLY_ORDER,
    Account,
    Action,
    Change,
    Deferred,
    Desired,
    Kind,
    Mailbox,
    Plan,
    Reminder,
    Status,
    managed_fields,
)


def _state(fields: Mapping[str, object], status: Status) -> dict[str, object]:
    return {**fields, "status": status.value}


def _delta(before: dict[str, object], after: dict[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def removal_eligible_on(account: Account, grace_days: int, tz: tzinfo | None = None) -> date | None:
    """The first day a disabled account may be removed; None when it is not disabled.

    ``tz``: the zone whose calendar counts the days (the ``timezone`` setting); UTC without it.
    """
    if account.disabled_since is None:
        return None
    since = account.disabled_since.astimezone(tz) if tz is not None else account.disabled_since
    return since.date() + timedelta(days=grace_days)


def expired(mailbox: Mailbox, today: date) -> bool:
    """Declared active but past its ``expires`` date: planned and applied as a disable."""
    return mailbox.status is Status.ACTIVE and mailbox.expires is not None and mailbox.expires < today


def expiry_reason(mailbox: Mailbox) -> str:
    assert mailbox.expires is not None
    return _("expired on {date}").format(date=date_text(mailbox.expires))


def _change_for(mailbox: Mailbox, account: Account | None, today: date, grace_days: int,
                tz: tzinfo | None = None) -> Change | Deferred | None:
    wanted = managed_fields(mailbox)
    reason = expiry_reason(mailbox) if expired(mailbox, today) else None
    declared = Status.DISABLED if reason else mailbox.status
    if account is None:
        # A legacy address (outside the official domains) is declared only to retire it: never created.
        if mailbox.status is Status.REMOVED or mailbox.legacy:
            return None
        return Change(Action.CREATE, mailbox.address, mailbox.unit, None, _state(wanted, declared), reason=reason)

    live_status = account.status
    before_full = _state(account.fields, live_status)
    if mailbox.status is Status.REMOVED:
        if live_status is Status.ACTIVE:
            target = Status.DISABLED
            due = today + timedelta(days=grace_days)
            reason = _("status: removed; disabled first, removal due on {date}").format(date=date_text(due))
        else:
            eligible = removal_eligible_on(account, grace_days, tz)
            assert eligible is not None
            if today < eligible:
                return Deferred(mailbox.address, mailbox.unit, eligible)
            return Change(Action.REMOVE, mailbox.address, mailbox.unit, before_full, None,
                          reason=_("status: removed; removal due on {date}").format(date=date_text(eligible)))
    else:
        target = declared

    before, after = _delta(before_full, _state(wanted, target))
    if not after:
        return None
    if live_status is not target:
        action = Action.ENABLE if target is Status.ACTIVE else Action.DISABLE
    else:
        action = Action.UPDATE
    return Change(action, mailbox.address, mailbox.unit, before, after,
                  reason=reason if action is Action.DISABLE else None)


def credential_reminder(mailbox: Mailbox, change: Change) -> Reminder | None:
    """A functional mailbox whose owner changes needs new credentials: the old custodian knows the password."""
    if mailbox.kind is not Kind.FUNCTIONAL or mailbox.status is not Status.ACTIVE:
        return None
    if change.action not in (Action.UPDATE, Action.ENABLE) or "owner" not in change.changed_fields():
        return None
    old = (change.before or {}).get("owner")
    return Reminder(mailbox.address, _("the owner of {address} changes from {old} to {new} ({name}): once "
                                       "applied, issue new credentials with "
                                       "`reconciler credentials issue {address}`").format(
        address=mailbox.address, old=old, new=mailbox.owner.id, name=mailbox.owner.name))


def diff(desired: Desired, live: Mapping[str, Account], *, today: date, grace_days: int,
         tz: tzinfo | None = None) -> Plan:
    """Compute the plan that brings ``live`` (keyed by lowercase address) to ``desired``."""
    changes: list[Change] = []
    deferred: list[Deferred] = []
    unchanged = 0
    reminders: list[Reminder] = []
    declared: set[str] = set()
    for mailbox in desired.mailboxes():
        address = mailbox.address
        key = address if address.islower() else address.lower()  # no lowercase copy of each address
        declared.add(key)
        outcome = _change_for(mailbox, live.get(key), today, grace_days, tz)
        if outcome is None:
            unchanged += 1
        elif isinstance(outcome, Deferred):
            deferred.append(outcome)
        else:
            changes.append(outcome)
            reminder = credential_reminder(mailbox, outcome)
            if reminder is not None:
                reminders.append(reminder)
    unmanaged = tuple(sorted(live[k].address for k in live.keys() - declared))
    changes.sort(key=lambda c: (APPLY_ORDER.index(c.action), c.address))
    return Plan(tuple(changes), unchanged, unmanaged, tuple(sorted(deferred, key=lambda d: d.address)),
                reminders=tuple(sorted(reminders, key=lambda r: r.address)))
