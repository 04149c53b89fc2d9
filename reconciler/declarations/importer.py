"""import: write unit files from live accounts, so an existing directory is adopted in one run (pure).

One unit file per live `ou`: the file name is a slug of the name as written (`Sở Tài chính` ->
`so-tai-chinh.yaml`) and the unit keeps that name, which is what `ou` carries (see the openldap profile).
What the policy does not allow to be declared (a forward or alias at a public provider or outside the
official domains) is left out and reported, so the files pass `validate` whenever the live entries
carry what the schema needs; what they do not carry (the kind, the owner's staff id) is written empty
with a comment, and listed, so the person importing knows exactly what to fill in.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.declarations import yamlwriter
from reconciler.declarations.naming import fold
from reconciler.declarations.policy import domain_of, is_public, local_part_problem
from reconciler.i18n import _
from reconciler.model import Account, Status

UNASSIGNED_UNIT = "chua-phan-loai"  # "not yet classified"
UNASSIGNED_NAME = "Chưa phân loại"
KINDS = ("personal", "functional")
HEADER = (
    "yaml-language-server: $schema=../schemas/unit.schema.json",
    "Imported from the live directory: check every value, fill in what is empty, add tickets.",
)


@dataclass
class Imported:
    """What import would write, and what it had to leave out (one line each, naming the mailbox)."""

    #: unit id -> the text of its unit file
    files: dict[str, str] = field(default_factory=dict)
    accounts: int = 0
    #: values kept out of the YAML because the policy forbids declaring them
    left_out: list[str] = field(default_factory=list)
    #: live accounts not imported at all, with the reason and what to do
    not_imported: list[str] = field(default_factory=list)
    #: fields written empty that must be filled in before `validate` passes: "file: address: field (hint)"
    to_fill: list[str] = field(default_factory=list)
    #: unit ids whose existing file gets the new mailboxes appended
    extended: list[str] = field(default_factory=list)
    #: unit ids whose existing file cannot be extended safely (merge by hand)
    refused: list[str] = field(default_factory=list)


def slug(name: str) -> str:
    """A unit id from a unit name: ASCII-folded, lowercase, words joined by '-'."""
    return re.sub(r"[^a-z0-9]+", "-", fold(name).lower()).strip("-")


def _forbidden(address: str, domains: tuple[str, ...], public: tuple[str, ...]) -> str | None:
    domain = domain_of(address)
    if is_public(domain, public):
        return _("at a public mail provider ({domain})").format(domain=domain)
    if domain not in domains:
        return _("outside the official domains ({domain})").format(domain=domain)
    if local_part_problem(address):
        return _("not a valid address ({reason})").format(reason=local_part_problem(address))
    return None


def _unit_of(account: Account, unit_ids: Mapping[str, str]) -> tuple[str, str]:
    """(unit id, the name as written in `ou`) of a live account."""
    ou = str(account.ou if account.ou is not None else account.fields.get("unit") or "").strip()
    if ou in unit_ids:
        return unit_ids[ou], ou
    return (slug(ou), ou) if slug(ou) else (UNASSIGNED_UNIT, UNASSIGNED_NAME)


def build(accounts: Iterable[Account], *, domains: tuple[str, ...], public_mail_domains: tuple[str, ...],
          unit_ids: Mapping[str, str] | None = None,
          existing: Callable[[str], str | None] = lambda _unit: None) -> Imported:
    """Unit files for ``accounts`` (live, not yet declared); ``unit_ids``: declared unit name -> id;
    ``existing``: the text of a unit's file when it exists already (new mailboxes are appended to it)."""
    unit_ids = unit_ids or {}
    result = Imported()
    accounts = sorted(accounts, key=lambda a: a.address.lower())
    # A functional mailbox's owner is a person: their name comes from their personal mailbox.
    people = {str(a.fields.get("owner")): " ".join(a.name.split()) for a in accounts
              if a.fields.get("kind") == "personal" and a.fields.get("owner")}
    members: dict[str, list[tuple[Account, str]]] = defaultdict(list)
    names: dict[str, Counter[str]] = defaultdict(Counter)
    for account in accounts:
        address = account.address.lower()
        unit_id, unit_name = _unit_of(account, unit_ids)
        reason = _forbidden(address, domains, public_mail_domains)
        if reason and account.disabled_since is None:
            result.not_imported.append(
                _("{address} ({unit}): active, {reason}; not imported. To retire it through a pull request, declare "
                  "it in mailboxes/{unit_id}.yaml with legacy: true and status: disabled").format(
                    address=account.address, unit=unit_name, reason=reason, unit_id=unit_id))
            continue
        members[unit_id].append((account, unit_name))
        names[unit_id][unit_name] += 1
    for unit_id in sorted(members):
        unit_name = names[unit_id].most_common(1)[0][0]
        for other in sorted(set(names[unit_id]) - {unit_name}):
            result.left_out.append(_("unit {unit_id}: 'ou' is also written {other} on some entries; the unit file "
                                     "keeps {name}, so the plan will update those entries' 'ou'").format(
                unit_id=unit_id, other=repr(other), name=repr(unit_name)))
        file = f"{unit_id}.yaml"
        comments: dict[tuple[str | int, ...], str] = {}
        if unit_id == UNASSIGNED_UNIT:
            comments[("unit", "name")] = "TODO: these accounts had no 'ou'; move them to their units"
        current = existing(unit_id)
        offset = 0 if current is None else yamlwriter.sequence_length(current, "mailboxes")
        entries = []
        for index, (account, _name) in enumerate(members[unit_id]):
            entries.append(_mailbox(account, offset + index, file, comments, result, domains, public_mail_domains,
                                    people))
        if current is None:
            data = {"unit": {"id": unit_id, "name": unit_name}, "mailboxes": entries}
            result.files[unit_id] = yamlwriter.document(data, header=HEADER, comments=comments)
        else:
            extended = yamlwriter.append_items(current, "mailboxes", entries, comments=comments)
            if extended is None:
                result.refused.append(unit_id)
                continue
            result.files[unit_id] = extended
            result.extended.append(unit_id)
        result.accounts += len(entries)
    return result


def _mailbox(account: Account, index: int, file: str, comments: dict[tuple[str | int, ...], str], result: Imported,
             domains: tuple[str, ...], public: tuple[str, ...], people: Mapping[str, str]) -> dict[str, object]:
    fields = account.fields
    address = account.address.lower()
    path: tuple[str | int, ...] = ("mailboxes", index)
    name = " ".join(account.name.split())
    kind = fields.get("kind") if fields.get("kind") in KINDS else ""
    owner = str(fields.get("owner") or "").strip()
    entry: dict[str, object] = {
        "address": address,
        "name": name,
        "kind": kind,
        "owner": {"id": owner, "name": name if kind != "functional" else people.get(owner, "")},
        "status": Status.ACTIVE.value if account.disabled_since is None else Status.DISABLED.value,
    }

    def fill(key: str, hint: str) -> None:
        comments[(*path, key)] = f"TODO: {hint}"
        result.to_fill.append(f"{file}: {address}: {key} ({hint})")

    if not name:
        fill("name", "the person's or role's full name")
    if not kind:
        live = fields.get("kind")
        fill("kind", "personal or functional" + (f"; the directory says {live!r}" if live else ""))
    if not owner:
        fill("owner", "the owner's staff id")
    elif not entry["owner"]["name"]:  # type: ignore[index]
        fill("owner", "the name of the person accountable for this role mailbox")
    if _forbidden(address, domains, public):
        entry["legacy"] = True
        comments[(*path, "legacy")] = "an address the policy no longer allows: it can only be disabled or removed"
    for key, word in (("aliases", "alias"), ("forward_to", "forward")):
        kept = []
        for value in fields.get(key) or ():  # type: ignore[attr-defined]
            reason = _forbidden(str(value).lower(), domains, public)
            if reason:
                result.left_out.append(_("{address}: {word} {value} is {reason}; left out of {file}, so the plan "
                                         "removes it (a policy violation until then)").format(
                    address=address, word=_(word), value=value, reason=reason, file=file))
            else:
                kept.append(str(value).lower())
        if key == "forward_to" and len(kept) > 1:
            result.left_out.append(_("{address}: {count} forwards ({forwards}); a mailbox has at most one: "
                                     "{kept} kept in {file}").format(
                address=address, count=len(kept), forwards=", ".join(kept), kept=kept[0], file=file))
            kept = kept[:1]
        if kept:
            entry[key] = kept
    return entry


def unit_files(accounts: Iterable[Account], *, domains: tuple[str, ...] = ("quangngai.gov.vn",),
               public_mail_domains: tuple[str, ...] = ()) -> dict[str, str]:
    """unit id -> the text of its unit file (see :func:`build` for what is left out and why)."""
    return build(accounts, domains=domains, public_mail_domains=public_mail_domains).files
