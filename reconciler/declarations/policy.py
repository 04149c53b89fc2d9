"""The province's rules as small named checks over the whole declared state (pure functions).

Each check takes the desired state and a PolicyContext and yields Problems that name the file and
field; the caller adds line and column. ``CHECKS`` lists them in the order they run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache, partial
from pathlib import PurePath

from reconciler.clock import date_text
from reconciler.declarations.naming import fold
from reconciler.i18n import _
from reconciler.model import Desired, Kind, Mailbox, Status
from reconciler.problems import ERROR, WARNING, WHERE, Path, Problem


@dataclass(frozen=True, slots=True)
class PolicyContext:
    domains: tuple[str, ...]
    public_mail_domains: tuple[str, ...]
    today: date


Check = Callable[[Desired, PolicyContext], Iterator[Problem]]

_LOCAL_ALLOWED = re.compile(r"^[a-z0-9._-]+$")


def _mailbox_path(mailbox: Mailbox, *rest: str | int) -> tuple[str, Path]:
    assert mailbox.source is not None
    return mailbox.source.file, ("mailboxes", mailbox.source.index, *rest)


def _problem(mailbox: Mailbox, field: tuple[str | int, ...], message: str, rule: str, *,
             ref: tuple[str, Path] | None = None, severity: str = ERROR) -> Problem:
    """A problem about ``mailbox``; ``ref`` is the other place the message names as {where}."""
    file, path = _mailbox_path(mailbox, *field)
    return Problem(file, message, path, rule=rule, severity=severity, subject=mailbox.address, ref=ref)


def _ref(mailbox: Mailbox, *field: str | int) -> tuple[str, Path]:
    """Where another mailbox's field is declared: the message says it as file:line:column."""
    return _mailbox_path(mailbox, *field)


def _addresses(mailbox: Mailbox) -> Iterator[tuple[tuple[str | int, ...], str]]:
    yield ("address",), mailbox.address
    for i, alias in enumerate(mailbox.aliases):
        yield ("aliases", i), alias


def _forwards(mailbox: Mailbox) -> Iterator[tuple[tuple[str | int, ...], str]]:
    for i, target in enumerate(mailbox.forward_to):
        yield ("forward_to", i), target


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def is_public(domain: str, public: tuple[str, ...]) -> bool:
    """True for a public provider's domain or any subdomain of one (mail.yahoo.com)."""
    domain = domain.lower().rstrip(".")
    return any(domain == p or domain.endswith("." + p) for p in public)


def _public_test(ctx: PolicyContext) -> Callable[[str], bool]:
    """is_public for this context, remembered per domain: a hundred thousand addresses share a few domains."""
    return cache(partial(is_public, public=ctx.public_mail_domains))


def local_part_problem(address: str) -> str | None:
    """Why an address's local part breaks the convention, or None."""
    local, _at, domain = address.rpartition("@")
    if not local:
        return _("an address needs a local part before '@'")
    if not local.isascii() or not domain.isascii():
        folded = fold(address).lower()
        return _("'{address}' has Vietnamese diacritics or other non-ASCII letters; use '{folded}'").format(
            address=address, folded=folded)
    if address != address.lower():
        return _("addresses are lowercase; use '{lower}'").format(lower=address.lower())
    if not _LOCAL_ALLOWED.match(local):
        bad = "".join(sorted({ch for ch in local if not _LOCAL_ALLOWED.match(ch)}))
        return _("local part may hold only a-z 0-9 . _ -; found {bad}").format(bad=repr(bad))
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return _("local part must not start or end with a dot or hold two dots in a row")
    return None


def _retired(mailbox: Mailbox) -> bool:
    """A legacy mailbox on its way out: its own address is exempt from the address rules."""
    return mailbox.legacy and mailbox.status is not Status.ACTIVE


def address_format(desired: Desired, ctx: PolicyContext) -> Iterator[Problem]:
    """Lowercase ASCII local parts [a-z0-9._-], no leading, trailing or double dot."""
    for mailbox in desired.mailboxes():
        for field, address in (*_addresses(mailbox), *_forwards(mailbox)):
            if field == ("address",) and _retired(mailbox):
                continue
            reason = local_part_problem(address)
            if reason:
                yield _problem(mailbox, field, reason, "address-format")


def official_domain(desired: Desired, ctx: PolicyContext) -> Iterator[Problem]:
    """A mailbox and its aliases live in one of the official domains, never at a public provider."""
    allowed = ", ".join(ctx.domains)
    public = _public_test(ctx)
    for mailbox in desired.mailboxes():
        for field, address in _addresses(mailbox):
            if field == ("address",) and _retired(mailbox):
                continue
            domain = domain_of(address)
            if public(domain):
                yield _problem(mailbox, field, _("'{address}' is at a public mail provider ({domain}); "
                               "official mail uses {allowed}").format(address=address, domain=domain,
                                                                      allowed=allowed), "official-domain")
            elif domain not in ctx.domains:
                yield _problem(mailbox, field, _("domain '{domain}' is not one of the official domains: "
                               "{allowed}").format(domain=domain, allowed=allowed), "official-domain")


def no_public_forwarding(desired: Desired, ctx: PolicyContext) -> Iterator[Problem]:
    """Forwarding never leaves the official domains, and never reaches a public provider."""
    public = _public_test(ctx)
    for mailbox in desired.mailboxes():
        for field, target in _forwards(mailbox):
            domain = domain_of(target)
            if public(domain):
                yield _problem(mailbox, field, _("forwarding to a public mail provider ({domain}) is "
                               "forbidden").format(domain=domain), "no-public-forwarding")
            elif domain not in ctx.domains:
                yield _problem(mailbox, field, _("forwarding outside the official domains ({domain}) is "
                               "forbidden").format(domain=domain), "no-public-forwarding")


def unique_addresses(desired: Desired, ctx: PolicyContext) -> Iterator[Problem]:
    """Addresses and aliases are unique across all files, case-insensitively."""
    mailbox_at: dict[str, Mailbox] = {}
    for mailbox in desired.mailboxes():
        address = mailbox.address
        key = address if address.islower() else address.lower()  # no lowercase copy of each address
        first = mailbox_at.get(key)
        if first is not None:
            yield _problem(mailbox, ("address",), _("'{address}' is already declared at {where}").format(
                               address=mailbox.address, where=WHERE),
                           "unique-address", ref=_ref(first, "address"))
        else:
            mailbox_at[key] = mailbox
    # The flat DIT names an entry by its local part (uid=...), so two domains cannot share one.
    local_at: dict[str, Mailbox] = {}
    for mailbox in desired.mailboxes():
        local = mailbox.address.rpartition("@")[0].lower()
        other = local_at.setdefault(local, mailbox)
        if other is not mailbox and other.address.lower() != mailbox.address.lower():
            yield _problem(mailbox, ("address",), _("local part '{local}' is already used by {other} "
                           "({where}); the directory names entries by local part").format(
                               local=local, other=other.address, where=WHERE),
                           "unique-address", ref=_ref(other, "address"))
    alias_at: dict[str, tuple[Mailbox, int]] = {}
    for mailbox in desired.mailboxes():
        for i, alias in enumerate(mailbox.aliases):
            key = alias.lower()
            owner = mailbox_at.get(key)
            if owner is not None and _renamed(owner, mailbox):
                continue
            if owner is not None:
                hint = (_("; to rename an address, disable the old mailbox in the same change")
                        if owner.owner.id == mailbox.owner.id else "")
                yield _problem(mailbox, ("aliases", i), _("alias '{alias}' is the address of the mailbox "
                               "at {where}").format(alias=alias, where=WHERE) + hint, "unique-address",
                               ref=_ref(owner, "address"))
            elif key in alias_at:
                other, j = alias_at[key]
                yield _problem(mailbox, ("aliases", i), _("alias '{alias}' is already used at {where}").format(
                               alias=alias, where=WHERE),
                               "unique-address", ref=_ref(other, "aliases", j))
            else:
                alias_at[key] = (mailbox, i)


def _renamed(old: Mailbox, new: Mailbox) -> bool:
    """An address rename: the same person's new mailbox keeps the old address as an alias, so mail keeps
    arriving, once the old mailbox is disabled (or removed)."""
    return old is not new and old.status is not Status.ACTIVE and old.owner.id == new.owner.id


def unit_ids(desired: Desired, ctx: PolicyContext) -> Iterator[Problem]:
    """The file stem equals unit.id, and unit ids are unique."""
    seen: dict[str, str] = {}
    for unit in desired.units:
        stem = PurePath(unit.file).stem
        if stem != unit.id:
            yield Problem(unit.file, _("unit id '{unit}' must equal the file name '{stem}' "
                          "(rename the file to {unit}.yaml or fix the id)").format(unit=unit.id, stem=stem),
                          ("unit", "id"), rule="unit-id")
        if unit.id in seen:
            yield Problem(unit.file, _("unit id '{unit}' is already used by {file}").format(unit=unit.id,
                                                                                            file=seen[unit.id]),
                          ("unit", "id"), rule="unit-id")
        else:
            seen[unit.id] = unit.file


def one_person_per_mailbox(desired: Desired, ctx: PolicyContext) -> Iterator[Problem]:
    """No shared accounts: one active personal mailbox per person; role mailboxes answer to a person."""
    personal_of: dict[str, Mailbox] = {}
    for mailbox in desired.mailboxes():
        if mailbox.kind is Kind.PERSONAL and mailbox.status is Status.ACTIVE:
            first = personal_of.get(mailbox.owner.id)
            if first is not None:
                yield _problem(mailbox, ("owner", "id"), _("owner {owner} already has an active "
                               "personal mailbox {address} ({where}); one person, "
                               "one mailbox: disable the old one").format(
                                   owner=mailbox.owner.id, address=first.address, where=WHERE),
                               "one-person-per-mailbox",
                               ref=_ref(first, "address"))
            else:
                personal_of[mailbox.owner.id] = mailbox
    for mailbox in desired.mailboxes():
        if (
            mailbox.kind is Kind.FUNCTIONAL
            and mailbox.status is Status.ACTIVE
            and mailbox.owner.id not in personal_of
        ):
            yield _problem(mailbox, ("owner", "id"), _("the accountable owner {owner} of a "
                           "functional mailbox must hold an active personal mailbox").format(owner=mailbox.owner.id),
                           "one-person-per-mailbox")


def not_expired(desired: Desired, ctx: PolicyContext) -> Iterator[Problem]:
    """An active mailbox past its expiry date is disabled by the next apply: a warning, never a block."""
    for mailbox in desired.mailboxes():
        if mailbox.status is Status.ACTIVE and mailbox.expires and mailbox.expires < ctx.today:
            yield _problem(mailbox, ("expires",), _("expired on {date} but declared "
                           "active: the next apply disables it; set status: disabled, or extend expires with a "
                           "ticket").format(date=date_text(mailbox.expires)), "not-expired", severity=WARNING)


def forward_targets(desired: Desired, ctx: PolicyContext) -> Iterator[Problem]:
    """A forward reaches someone: an active, declared official mailbox (or its alias) other than itself."""
    by_address: dict[str, Mailbox] = {}
    for mailbox in desired.mailboxes():
        by_address.setdefault(mailbox.address.lower(), mailbox)
    by_alias = {a.lower(): m for m in desired.mailboxes() for a in m.aliases if m.status is not Status.REMOVED}
    for mailbox in desired.mailboxes():
        if mailbox.status is Status.REMOVED:
            continue
        for field, target in _forwards(mailbox):
            key = target.lower()
            if domain_of(key) not in ctx.domains:
                continue  # no_public_forwarding says why
            found = by_address.get(key) or by_alias.get(key)
            if found is mailbox:
                yield _problem(mailbox, field, _("a mailbox cannot forward to itself"), "forward-target")
            elif found is None:
                yield _problem(mailbox, field, _("forwarding to {target}, which no unit file declares: mail would "
                               "reach no one").format(target=target), "forward-target")
            elif found.status is not Status.ACTIVE:
                yield _problem(mailbox, field, _("forwarding to {target}, which is {status} ({where}): "
                               "mail would reach no one").format(target=target, status=found.status.value,
                                                                 where=WHERE), "forward-target",
                               ref=_ref(found, "status"))


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def owner_names(desired: Desired, ctx: PolicyContext) -> Iterator[Problem]:
    """One person, one name: an active mailbox's owner name matches the one on that owner's active personal
    mailbox (disabled and removed ones keep the name they had: they are history)."""
    personal = {m.owner.id: m for m in desired.mailboxes() if m.kind is Kind.PERSONAL and m.status is Status.ACTIVE}
    for mailbox in desired.mailboxes():
        theirs = personal.get(mailbox.owner.id)
        if theirs is None or theirs is mailbox or mailbox.status is not Status.ACTIVE:
            continue
        if not _same_name(mailbox.owner.name, theirs.owner.name):
            yield _problem(mailbox, ("owner", "name"), _("owner {owner} is '{name}' here "
                           "but '{other}' on their personal mailbox {address} ({where})").format(
                               owner=mailbox.owner.id, name=mailbox.owner.name, other=theirs.owner.name,
                               address=theirs.address, where=WHERE),
                           "owner-name", ref=_ref(theirs, "owner", "name"))


def functional_owner_unit(desired: Desired, ctx: PolicyContext) -> Iterator[Problem]:
    """A role mailbox's custodian works in its unit; one who moved elsewhere should hand it over (a warning)."""
    personal = {m.owner.id: m for m in desired.mailboxes() if m.kind is Kind.PERSONAL and m.status is Status.ACTIVE}
    for mailbox in desired.mailboxes():
        if mailbox.kind is not Kind.FUNCTIONAL or mailbox.status is not Status.ACTIVE:
            continue
        theirs = personal.get(mailbox.owner.id)
        if theirs is not None and theirs.unit != mailbox.unit:
            yield _problem(mailbox, ("owner", "id"), _("the owner {owner} ({name}) of this "
                           "{unit} mailbox now belongs to {other_unit} ({address}, {where}): "
                           "hand it to someone in the unit").format(
                               owner=mailbox.owner.id, name=mailbox.owner.name, unit=mailbox.unit,
                               other_unit=theirs.unit, address=theirs.address, where=WHERE), "functional-owner-unit",
                           ref=_ref(theirs, "address"),
                           severity=WARNING)


def legacy_only_retired(desired: Desired, ctx: PolicyContext) -> Iterator[Problem]:
    """A legacy account (an address the policy no longer allows) is declared only to disable or remove it."""
    for mailbox in desired.mailboxes():
        if mailbox.legacy and mailbox.status is Status.ACTIVE:
            yield _problem(mailbox, ("status",), _("{address} is a legacy account: it can only be declared "
                           "disabled or removed (an address outside the official domains cannot be active)").format(
                               address=mailbox.address), "legacy")


CHECKS: tuple[Check, ...] = (
    unit_ids,
    address_format,
    official_domain,
    unique_addresses,
    one_person_per_mailbox,
    no_public_forwarding,
    forward_targets,
    owner_names,
    functional_owner_unit,
    not_expired,
    legacy_only_retired,
)


def check(desired: Desired, ctx: PolicyContext) -> list[Problem]:
    return [problem for rule in CHECKS for problem in rule(desired, ctx)]
