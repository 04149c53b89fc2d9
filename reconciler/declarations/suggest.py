"""`reconciler new`: an address for a new person by the provincial convention, and the entry to paste."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.declarations import naming, yamlwriter
from reconciler.declarations.desired import nfc
from reconciler.declarations.schema import did_you_mean
from reconciler.i18n import _
from reconciler.model import Desired
from reconciler.problems import ReconcilerError


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A new mailbox entry, ready to paste into its unit file."""

    address: str
    unit: str
    file: str
    entry: str
    #: fields the caller left empty and must fill in before committing
    missing: tuple[str, ...] = ()


def suggestion(desired: Desired, full_name: str, unit: str, domain: str, mailboxes_dir: str, *,
               owner_id: str = "", ticket: str = "") -> Suggestion:
    """The conventional address for ``full_name`` (unique among declared addresses and aliases) and its entry."""
    unit_ids = sorted(u.id for u in desired.units)
    if unit not in unit_ids:
        hint = did_you_mean(unit, unit_ids)
        raise ReconcilerError(_("unknown unit '{unit}';{hint} known units: {units}").format(
            unit=unit, hint=hint, units=", ".join(unit_ids) or _("none")))
    taken = [a for m in desired.mailboxes() for a in (m.address, *m.aliases)]
    try:
        address = naming.suggest_address(full_name, domain, taken)
    except ValueError as err:
        raise ReconcilerError(str(err)) from None
    name = nfc(" ".join(full_name.split()))
    entry = "\n".join(yamlwriter.sequence_item_lines({
        "address": address, "name": name, "kind": "personal", "owner": {"id": owner_id, "name": name},
        "status": "active", "ticket": ticket}, 2))
    missing = tuple(label for label, value in (("owner.id", owner_id), ("ticket", ticket)) if not value)
    return Suggestion(address, unit, f"{mailboxes_dir}/{unit}.yaml", entry, missing)
