"""The `openldap` profile: mailboxes as inetOrgPerson entries, using only schemas shipped with OpenLDAP.

What each attribute carries (people see several of them in the webmail address book):

- flat DIT: ``uid=<local part>,<base_dn>``; objectClasses inetOrgPerson and inetLocalMailRecipient
- ``uid`` the local part, ``mail`` the address (exactly one value)
- ``cn`` and ``displayName`` the person's or role's name as declared; ``sn`` the family name (first
  word) and ``givenName`` the last word, written with the name but not compared: hand-made entries
  often split names differently (givenName "Văn An") and that is not drift
- ``ou`` the unit's NAME as declared in its unit file (``Sở Tài chính``), because the address book
  shows it; the profile maps it back to the unit id through the declarations, so the plan compares
  what the directory would hold
- ``employeeNumber`` the owner's staff id, ``employeeType`` the kind (personal, functional)
- ``mailLocalAddress`` the aliases, ``mailRoutingAddress`` the one forward
- disabled: ``pwdEndTime`` (ppolicy) set to the moment of disabling. Unlike pwdAccountLockedTime it
  survives an administrator's password reset; enabling deletes it.

Only the attributes listed in OWNED are compared and written; anything else on an entry is left alone.
Entries that are not mailboxes (no ``mail``, not an inetOrgPerson) are listed and ignored; entries the
profile cannot read as one mailbox (two ``mail`` values, a DN that is not ``uid=<local part>``, an
unparsable time) are reported one line each and never touched.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from ldap3.utils.dn import escape_rdn

from reconciler.declarations.naming import split_name
from reconciler.directory.base import Add, Delete, Entry, Modify, Operation
from reconciler.i18n import _
from reconciler.model import Account, Action, Change, LiveView, Mailbox, Status, Unreadable, managed_fields
from reconciler.problems import ReconcilerError

NAME = "openldap"
OBJECT_CLASS = "inetOrgPerson"
OBJECT_CLASSES = ["top", "person", "organizationalPerson", "inetOrgPerson", "inetLocalMailRecipient"]
DISABLED_MARKER = "pwdEndTime"
LAST_LOGIN = "pwdLastSuccess"
CREATED = "createTimestamp"

#: model field -> the attributes that carry it
FIELD_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "name": ("cn", "displayName", "sn", "givenName"),
    "kind": ("employeeType",),
    "unit": ("ou",),
    "owner": ("employeeNumber",),
    "aliases": ("mailLocalAddress",),
    "forward_to": ("mailRoutingAddress",),
    "status": (DISABLED_MARKER,),
}
OWNED = ("uid", "mail", *(a for attrs in FIELD_ATTRIBUTES.values() for a in attrs))
READ_ATTRIBUTES = (*OWNED, LAST_LOGIN)
#: what the review reads: also when each entry was created (for never-used accounts)
REVIEW_READ_ATTRIBUTES = (*READ_ATTRIBUTES, CREATED)
#: every entry under base_dn is read, so that what is not a mailbox can be listed as such
ALL_ENTRIES = "*"
SCAN_ATTRIBUTES = (*READ_ATTRIBUTES, "objectClass")
#: the reconciler's own entries under base_dn (lock, last apply): neither mailboxes nor reported
OWN_ENTRY_RDNS = ("cn=reconciler-lock", "cn=reconciler-state")


class ProfileError(ReconcilerError):
    """A live entry the profile cannot read."""


def generalized_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def parse_generalized_time(text: str) -> datetime:
    """RFC 4517 GeneralizedTime as slapd writes it (fractions and offsets accepted)."""
    value = text.strip()
    if value.endswith("Z"):
        value, tz = value[:-1], "+0000"
    elif len(value) > 5 and value[-5] in "+-":
        value, tz = value[:-5], value[-5:]
    else:
        tz = "+0000"
    value = value.split(".")[0].split(",")[0]
    value = value.ljust(14, "0")
    return datetime.strptime(value + tz, "%Y%m%d%H%M%S%z").astimezone(UTC)


def local_part(address: str) -> str:
    return address.rpartition("@")[0]


def dn_for(address: str, base_dn: str) -> str:
    return f"uid={escape_rdn(local_part(address))},{base_dn}"


def _name_attributes(name: str) -> dict[str, list[str]]:
    family, given = split_name(name)
    return {"cn": [name], "displayName": [name], "sn": [family], "givenName": [given]}


def field_attributes(field: str, value: object, *, now: datetime,
                     unit_names: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """The attribute values that store one model field (empty list: attribute absent). ``unit_names``
    (unit id -> name) makes ``ou`` carry the unit's name."""
    match field:
        case "unit" if unit_names is not None and value in unit_names:
            return {"ou": [unit_names[str(value)]]}
        case "name":
            return _name_attributes(str(value))
        case "status":
            return {DISABLED_MARKER: [] if value == Status.ACTIVE.value else [generalized_time(now)]}
        case "aliases" | "forward_to":
            assert isinstance(value, list)
            return {FIELD_ATTRIBUTES[field][0]: [str(v) for v in value]}
        case _:
            return {FIELD_ATTRIBUTES[field][0]: [] if value in (None, "") else [str(value)]}


def entry_for(mailbox: Mailbox, base_dn: str, *, now: datetime, unit_names: Mapping[str, str] | None = None) -> Add:
    attrs: dict[str, list[str]] = {
        "objectClass": list(OBJECT_CLASSES),
        "uid": [local_part(mailbox.address)],
        "mail": [mailbox.address],
    }
    for field, value in {**managed_fields(mailbox), "status": mailbox.status.value}.items():
        attrs.update(field_attributes(field, value, now=now, unit_names=unit_names))
    return Add(dn_for(mailbox.address, base_dn), {k: v for k, v in attrs.items() if v})


def operation_for(change: Change, mailbox: Mailbox | None, account: Account | None, base_dn: str,
                  *, now: datetime, unit_names: Mapping[str, str] | None = None) -> Operation:
    """The one directory operation that carries out a planned change."""
    if change.action is Action.CREATE:
        assert mailbox is not None
        return entry_for(mailbox, base_dn, now=now, unit_names=unit_names)
    assert account is not None
    if change.action is Action.REMOVE:
        return Delete(account.dn)
    replace: dict[str, list[str]] = {}
    for field, value in (change.after or {}).items():
        replace.update(field_attributes(field, value, now=now, unit_names=unit_names))
    return Modify(account.dn, replace)


def _stored_name(entry: Entry) -> str:
    return entry.first("displayName") or entry.first("cn") or ""


def _name_field(entry: Entry) -> str:
    name = _stored_name(entry)
    cn = entry.first("cn")
    # cn and displayName both show the name: a hand edit that left them disagreeing is a name to fix.
    # sn and givenName are derived on write only (see the module docstring).
    return f"{name} (cn: {cn})" if cn is not None and cn != name else name


def account_from_entry(entry: Entry, *, unit_ids: Mapping[str, str] | None = None) -> Account:
    """One mailbox entry as an Account; ``unit_ids`` (unit name -> id) maps ``ou`` back to the unit id.
    Raises ProfileError, naming the entry, when the profile cannot read it as one mailbox."""
    mails = entry.all("mail")
    if len(mails) != 1:
        found = _("no 'mail' attribute") if not mails else _("{count} 'mail' values ({values})").format(
            count=len(mails), values=", ".join(mails))
        raise ProfileError(_("{dn}: entry has {found}; the {profile} profile needs exactly one").format(
            dn=entry.dn, found=found, profile=NAME))
    address = mails[0]
    if "@" not in address.strip("@"):
        raise ProfileError(_("{dn}: 'mail' value {value} is not an e-mail address").format(dn=entry.dn,
                                                                                         value=repr(address)))
    rdn_attr, _eq, rdn_value = entry.dn.split(",", 1)[0].partition("=")
    if rdn_attr.strip().lower() != "uid" or rdn_value.strip().lower() != local_part(address).lower():
        raise ProfileError(_("{dn}: the DN does not match the address {address} (the {profile} profile names "
                             "it {rdn})").format(dn=entry.dn, address=address, profile=NAME,
                                                 rdn=f"uid={local_part(address)},<base_dn>"))
    disabled_since = last_login = created = None
    try:
        if (end := entry.first(DISABLED_MARKER)) is not None:
            disabled_since = parse_generalized_time(end)
        if (login := entry.first(LAST_LOGIN)) is not None:
            last_login = parse_generalized_time(login)
        if (made := entry.first(CREATED)) is not None:
            created = parse_generalized_time(made)
    except ValueError:
        raise ProfileError(_("{dn}: {attributes} is not a GeneralizedTime").format(
            dn=entry.dn, attributes=f"{DISABLED_MARKER}/{LAST_LOGIN}/{CREATED}")) \
            from None
    ou = _interned(entry.first("ou"))  # a unit's name on each of its accounts: one string
    fields: dict[str, object] = {
        "name": _name_field(entry),
        # A handful of distinct values on every account: one string object each.
        "kind": _interned(entry.first("employeeType")),
        "unit": _interned(unit_field(ou, unit_ids)),
        "owner": entry.first("employeeNumber"),
        "aliases": sorted(entry.all("mailLocalAddress")),
        "forward_to": sorted(entry.all("mailRoutingAddress")),
    }
    return Account(address, fields, disabled_since, last_login, entry.dn, _stored_name(entry), created=created,
                   ou=ou)


def unit_field(ou: str | None, unit_ids: Mapping[str, str] | None) -> str | None:
    """The unit id `ou` names; an `ou` that names no declared unit stays visibly apart from every id, so
    that even an `ou` holding a unit's id (the old mapping) is rewritten to the unit's name."""
    if ou is None or unit_ids is None:
        return ou
    return unit_ids.get(ou, f"{ou} (not a unit name)")


def _interned(value: str | None) -> str | None:
    return None if value is None else sys.intern(value)


def accounts(entries: Mapping[str, Entry] | Iterable[Entry]) -> dict[str, Account]:
    """Live accounts keyed by lowercase address; an unreadable entry stops with one clear line."""
    items = entries.values() if isinstance(entries, Mapping) else entries
    result: dict[str, Account] = {}
    for entry in items:
        account = account_from_entry(entry)
        address = account.address
        key = address if address.islower() else address.lower()  # no second copy of an address in lowercase
        if key in result:
            raise ProfileError(_("{dn}: address {address} is also on {other}").format(
                dn=entry.dn, address=account.address, other=result[key].dn))
        result[key] = account
    return result


def not_a_mailbox(entry: Entry) -> str | None:
    """Why an entry is not a mailbox under this profile (a service account, a group), or None."""
    classes = {c.lower() for c in entry.all("objectClass")}
    if classes and OBJECT_CLASS.lower() not in classes:
        return _("not an {object_class}").format(object_class=OBJECT_CLASS)
    if not entry.all("mail"):
        return _("no 'mail' attribute")
    return None


def read_entries(entries: Mapping[str, Entry] | Iterable[Entry], *, unit_ids: Mapping[str, str] | None = None,
                 ignore: Callable[[Entry], bool] | None = None) -> LiveView:
    """Every entry under base_dn, sorted out: mailboxes, entries that are not mailboxes, entries the profile
    cannot read (all reported, none stops the others), and entries `directory.ignore` keeps out."""
    items = entries.values() if isinstance(entries, Mapping) else entries
    result: dict[str, Account] = {}
    not_mailboxes: list[str] = []
    unreadable: list[Unreadable] = []
    clashing: dict[str, Unreadable] = {}
    ignored = 0
    for entry in items:
        if entry.dn.split(",", 1)[0].strip().lower() in OWN_ENTRY_RDNS:
            continue
        if ignore is not None and ignore(entry):
            ignored += 1
            continue
        if not_a_mailbox(entry):
            not_mailboxes.append(entry.dn)
            continue
        try:
            account = account_from_entry(entry, unit_ids=unit_ids)
        except ProfileError as err:
            unreadable.append(Unreadable(entry.dn, str(err).removeprefix(f"{entry.dn}: ")))
            continue
        key = account.address.lower()
        if key in result or key in clashing:
            first = result.pop(key, None)
            if first is not None:
                clashing[key] = Unreadable(first.dn, f"address {first.address} is also on {entry.dn}")
            unreadable.append(Unreadable(entry.dn, f"address {account.address} is also on "
                                                   f"{first.dn if first else clashing[key].dn}"))
            continue
        result[key] = account
    unreadable += clashing.values()
    return LiveView(result, tuple(sorted(not_mailboxes)), tuple(sorted(unreadable, key=lambda u: u.dn)), ignored)
