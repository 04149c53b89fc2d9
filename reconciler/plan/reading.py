"""Reading the live directory through the profile that directory.profile names."""

from __future__ import annotations

from reconciler.declarations.adopt import unit_ids
from reconciler.declarations.desired import cyclic_gc_paused
from reconciler.directory import profiles
from reconciler.directory.base import Directory
from reconciler.directory.ldapfilter import ignore_matcher
from reconciler.directory.profiles import Profile
from reconciler.model import Account, Desired, LiveView
from reconciler.settings import Settings


def read_live(directory: Directory, profile: Profile) -> dict[str, Account]:
    # Entries are turned into accounts as they arrive: the entries themselves are never all kept.
    with cyclic_gc_paused():  # a bulk load of acyclic objects: see cyclic_gc_paused
        return profile.accounts(directory.search(profile.OBJECT_CLASS, profile.READ_ATTRIBUTES))


def profile_of(settings: Settings) -> Profile:
    return profiles.get(settings.directory.profile)


def read_live_view(directory: Directory, settings: Settings, desired: Desired | None = None) -> LiveView:
    """Every entry under base_dn through the profile: accounts, what is not a mailbox, what cannot be read;
    `directory.ignore` keeps service accounts out. ``desired`` maps `ou` (a unit name) back to unit ids."""
    profile = profile_of(settings)
    matcher, needed = ignore_matcher(settings.directory.ignore)
    attributes = (*profile.SCAN_ATTRIBUTES, *sorted(needed - {a.lower() for a in profile.SCAN_ATTRIBUTES}))
    # Entries are turned into accounts as they arrive: the entries themselves are never all kept.
    entries = directory.search(profile.ALL_ENTRIES, attributes)
    with cyclic_gc_paused():  # a bulk load of acyclic objects: see cyclic_gc_paused
        return profile.read_entries(entries, unit_ids=unit_ids(desired) if desired is not None else None,
                                    ignore=matcher)


def map_units(view: LiveView, desired: Desired, profile: Profile) -> None:
    """Give each live account the unit its `ou` (a unit's name) maps to under ``desired``: the read ran
    before the declarations were known."""
    ids = unit_ids(desired)
    for account in view.accounts.values():
        account.fields["unit"] = profile.unit_field(account.ou, ids)
