"""What a reviewer and an auditor ask of git history, as pure functions over declarations.

- which planned changes a pull request asks for, and which are drift;
- lifecycle rules between two revisions (no deletion without a tombstone, no skipped step);
- what changed in a mailbox's declaration, and which mailboxes expire soon.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

from reconciler.clock import date_text
from reconciler.i18n import _
from reconciler.model import Change, Desired, Mailbox, Plan, Status, managed_fields
from reconciler.problems import Problem

CHANGE = "change"
DRIFT = "drift"
#: decided by an earlier pull request and due now (an expiry date reached, a removal's grace period over)
SCHEDULED = "scheduled"

#: status -> statuses a mailbox may move to in one pull request
ALLOWED_TRANSITIONS: dict[Status, set[Status]] = {
    Status.ACTIVE: {Status.ACTIVE, Status.DISABLED},
    Status.DISABLED: {Status.DISABLED, Status.ACTIVE, Status.REMOVED},
    Status.REMOVED: {Status.REMOVED},
}


def declaration(mailbox: Mailbox) -> dict[str, object]:
    """Every declared field of a mailbox, as plain values (for history and reports)."""
    return {
        "address": mailbox.address,
        "unit": mailbox.unit,
        "name": mailbox.name,
        "kind": mailbox.kind.value,
        "owner": mailbox.owner.id,
        "owner_name": mailbox.owner.name,
        "status": mailbox.status.value,
        "aliases": list(mailbox.aliases),
        "forward_to": list(mailbox.forward_to),
        "expires": mailbox.expires.isoformat() if mailbox.expires else None,
        "ticket": mailbox.ticket,
    }


def by_address(desired: Desired) -> dict[str, Mailbox]:
    return {m.address.lower(): m for m in desired.mailboxes()}


def _directory_view(mailbox: Mailbox | None) -> dict[str, object] | None:
    return None if mailbox is None else {**managed_fields(mailbox), "status": mailbox.status.value}


def mark_origins(plan: Plan, head: Desired, base: Desired) -> Plan:
    """Label each change: asked for by the pull request (``change``) or found in the directory (``drift``).

    A change is the pull request's when what it declares for the directory differs between the base
    revision and HEAD; otherwise the directory drifted from what the base already declared.
    """
    head_map, base_map = by_address(head), by_address(base)
    # `ou` carries the unit's name: renaming a unit in the pull request changes its mailboxes' entries.
    head_names, base_names = {u.id: u.name for u in head.units}, {u.id: u.name for u in base.units}

    def asked(address: str) -> bool:
        key = address.lower()
        return _directory_view(head_map.get(key)) != _directory_view(base_map.get(key))

    def origin(change: Change) -> str:
        if asked(change.address):
            return CHANGE
        renamed = head_names.get(change.unit) != base_names.get(change.unit)
        if renamed and "unit" in change.changed_fields():
            return CHANGE
        return SCHEDULED if change.reason else DRIFT

    return replace(plan, changes=tuple(replace(c, origin=origin(c)) for c in plan.changes),
                   deferred=tuple(replace(d, origin=CHANGE if asked(d.address) else SCHEDULED)
                                  for d in plan.deferred))


def lifecycle_problems(base: Desired, head: Desired, *, today: date | None = None) -> list[Problem]:
    """Deleted instead of tombstoned, a status change the lifecycle forbids, or (given ``today``) an expiry
    set in the past, since ``base``."""
    head_map = by_address(head)
    problems: list[Problem] = []
    if today is not None:
        problems += past_expiry_problems(base, head, today)
    for key, before in by_address(base).items():
        after = head_map.get(key)
        if after is None:
            assert before.source is not None
            problems.append(Problem(before.source.file, _("{address} was deleted from the declarations; keep "
                                    "it with status: removed (a tombstone) so its history stays readable").format(
                                        address=before.address),
                                    ("mailboxes",), rule="lifecycle", subject=before.address))
            continue
        if after.status in ALLOWED_TRANSITIONS[before.status]:
            continue
        assert after.source is not None
        if before.status is Status.ACTIVE:
            message = _("active -> removed skips a step: set status: disabled first; removal follows after the "
                        "grace period")
        else:
            message = _("a removed mailbox stays removed ({before} -> {after}); "
                        "declare a new address instead").format(before=before.status.value, after=after.status.value)
        problems.append(Problem(after.source.file, message, ("mailboxes", after.source.index, "status"),
                                rule="lifecycle", subject=after.address))
    return problems


def past_expiry_problems(base: Desired, head: Desired, today: date) -> list[Problem]:
    """A pull request may not *set* an expiry that has already passed on an active mailbox (a typo, or a
    disable in disguise: write status: disabled instead). One that passed since it was set only warns."""
    base_map = by_address(base)
    problems = []
    for mailbox in head.mailboxes():
        if mailbox.status is not Status.ACTIVE or mailbox.expires is None or mailbox.expires >= today:
            continue
        before = base_map.get(mailbox.address.lower())
        if before is not None and before.expires == mailbox.expires:
            continue
        assert mailbox.source is not None
        problems.append(Problem(mailbox.source.file, _("this change sets an expiry in the past "
                                "({date}) on an active mailbox: set a future date, or "
                                "status: disabled to disable it now").format(date=date_text(mailbox.expires)),
                                ("mailboxes", mailbox.source.index, "expires"),
                                rule="lifecycle", subject=mailbox.address))
    return problems


FieldChange = tuple[str, object, object]


def field_changes(before: Mapping[str, object] | None, after: Mapping[str, object] | None) -> list[FieldChange]:
    """(field, old, new) for every declared field that differs; a creation lists the fields it sets."""
    old = before or {}
    new = after or {}
    keys = [k for k in (*new.keys(), *(k for k in old if k not in new)) if k != "address"]
    return [(k, old.get(k), new.get(k)) for k in keys
            if old.get(k) != new.get(k) and not (before is None and new.get(k) in (None, []))]


DIRECTORY_FIELDS = {"name", "kind", "unit", "owner", "aliases", "forward_to", "status"}


def expired_active(desired: Desired, at: date) -> list[Mailbox]:
    """Declared active but past ``expires``: the next apply disables them (until then they still work)."""
    return sorted((m for m in desired.mailboxes() if m.status is Status.ACTIVE and m.expires and m.expires < at),
                  key=lambda m: (m.expires or at, m.address))


def expiring(desired: Desired, at: date, days: int) -> list[Mailbox]:
    return sorted((m for m in desired.mailboxes() if m.status is Status.ACTIVE and m.expires
                   and at <= m.expires <= date.fromordinal(at.toordinal() + days)),
                  key=lambda m: (m.expires or at, m.address))
