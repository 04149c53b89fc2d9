"""What a person needs beside the diff to approve a plan: names, the unit's full name, the ticket.

Kept apart from the diff (pure and checksummed): these fields only help people read the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from reconciler.audit.lifecycle import DIRECTORY_FIELDS, by_address, declaration, field_changes
from reconciler.model import Account, Desired, Plan


def unit_names(desired: Desired) -> dict[str, str]:
    return {u.id: u.name for u in desired.units}


def annotate(plan: Plan, desired: Desired, live: Mapping[str, Account]) -> Plan:
    """Fill each change's name, owner name, unit name and ticket from the declarations and the live entry."""
    declared = by_address(desired)
    units = unit_names(desired)

    def names(address: str) -> dict[str, str | None]:
        mailbox = declared.get(address.lower())
        account = live.get(address.lower())
        live_name = account.name if account is not None and account.name else None
        return {
            "name": mailbox.name if mailbox else live_name,
            "owner_name": mailbox.owner.name if mailbox else None,
            "ticket": mailbox.ticket if mailbox else None,
        }

    changes = tuple(replace(c, unit_name=units.get(c.unit), **names(c.address)) for c in plan.changes)
    deferred = tuple(replace(d, unit_name=units.get(d.unit), name=names(d.address)["name"]) for d in plan.deferred)
    return replace(plan, changes=changes, deferred=deferred)


@dataclass(frozen=True, slots=True)
class DeclarationChange:
    """A change a pull request makes to a declaration that the directory does not hold (expires, ticket, …)."""

    address: str
    unit: str
    unit_name: str | None
    name: str
    ticket: str | None
    fields: list[tuple[str, object, object]]


def declaration_only(head: Desired, base: Desired) -> list[DeclarationChange]:
    """What changed in declarations between ``base`` and ``head`` that the directory does not hold (an expiry,
    a ticket, an owner's name): listed even when the same mailbox also has a directory change, which the
    plan shows in its own row."""
    head_map, base_map = by_address(head), by_address(base)
    units = unit_names(head)
    found = []
    for key, mailbox in sorted(head_map.items()):
        before = base_map.get(key)
        if before is None:
            continue
        fields = [f for f in field_changes(declaration(before), declaration(mailbox))
                  if f[0] not in DIRECTORY_FIELDS]
        if not fields:
            continue
        found.append(DeclarationChange(mailbox.address, mailbox.unit, units.get(mailbox.unit), mailbox.name,
                                       mailbox.ticket, fields))
    return found
