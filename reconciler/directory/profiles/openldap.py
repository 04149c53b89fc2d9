"""The `openldap` profile: mailboxes as inetOrgPerson entries, using only schemas shipped with OpenLDAP.

- flat DIT: ``uid=<local part>,<base_dn>``; objectClasses inetOrgPerson and inetLocalMailRecipient
- uid, mail, cn/displayName (name), sn (family name: first word), givenName (last word),
  ou (unit id), employeeNumber (owner id), employeeType (kind), mailLocalAddress (aliases),
  mailRoutingAddress (forwarding address)
- disabled: ``pwdEndTime`` (ppolicy) set to the moment of disabling. Unlike pwdAccountLockedTime it
  survives an administrator's password reset; enabling deletes it.

Only the attributes listed in OWNED are compared and written; anything else on an entry is left alone.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from ldap3.utils.dn import escape_rdn

from reconciler.declarations.naming import split_name
from reconciler.directory.base import Add, Delete, Entry, Modify, Operation
from reconciler.model import Account, Action, Change, Mailbox, Status, managed_fields
from reconciler.problems import ReconcilerError

NAME = "openldap"
OBJECT_CLASS = "inetOrgPerson"
OBJECT_CLASSES = ["top", "person", "organizationalPerson", "inetOrgPerson", "inetLocalMailRecipient"]
DISABLED_MARKER = "pwdEndTime"
LAST_LOGIN = "pwdLastSuccess"

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


def field_attributes(field: str, value: object, *, now: datetime) -> dict[str, list[str]]:
    """The attribute values that store one model field (empty list: attribute absent)."""
    match field:
        case "name":
            return _name_attributes(str(value))
        case "status":
            return {DISABLED_MARKER: [] if value == Status.ACTIVE.value else [generalized_time(now)]}
        case "aliases" | "forward_to":
            assert isinstance(value, list)
            return {FIELD_ATTRIBUTES[field][0]: [str(v) for v in value]}
        case _:
            return {FIELD_ATTRIBUTES[field][0]: [] if value in (None, "") else [str(value)]}


def entry_for(mailbox: Mailbox, base_dn: str, *, now: datetime) -> Add:
    attrs: dict[str, list[str]] = {
        "objectClass": list(OBJECT_CLASSES),
        "uid": [local_part(mailbox.address)],
        "mail": [mailbox.address],
    }
    for field, value in {**managed_fields(mailbox), "status": mailbox.status.value}.items():
        attrs.update(field_attributes(field, value, now=now))
    return Add(dn_for(mailbox.address, base_dn), {k: v for k, v in attrs.items() if v})


def operation_for(change: Change, mailbox: Mailbox | None, account: Account | None, base_dn: str,
                  *, now: datetime) -> Operation:
    """The one directory operation that carries out a planned change."""
    if change.action is Action.CREATE:
        assert mailbox is not None
        return entry_for(mailbox, base_dn, now=now)
    assert account is not None
    if change.action is Action.REMOVE:
        return Delete(account.dn)
    replace: dict[str, list[str]] = {}
    for field, value in (change.after or {}).items():
        replace.update(field_attributes(field, value, now=now))
    return Modify(account.dn, replace)


def _stored_name(entry: Entry) -> str:
    return entry.first("displayName") or entry.first("cn") or ""


def _name_field(entry: Entry) -> str:
    name = _stored_name(entry)
    expected = _name_attributes(name)
    drifted = [
        f"{attr}: {entry.first(attr)}"
        for attr in ("cn", "sn", "givenName")
        if entry.first(attr) != expected[attr][0]
    ]
    # A hand edit that left the name attributes disagreeing shows up as a name to fix.
    return f"{name} ({', '.join(drifted)})" if drifted else name


def account_from_entry(entry: Entry) -> Account:
    mails = entry.all("mail")
    if len(mails) != 1:
        found = "no 'mail' attribute" if not mails else f"{len(mails)} 'mail' values"
        raise ProfileError(f"{entry.dn}: entry has {found}; the {NAME} profile needs exactly one")
    disabled_since = last_login = None
    try:
        if (end := entry.first(DISABLED_MARKER)) is not None:
            disabled_since = parse_generalized_time(end)
        if (login := entry.first(LAST_LOGIN)) is not None:
            last_login = parse_generalized_time(login)
    except ValueError:
        raise ProfileError(f"{entry.dn}: {DISABLED_MARKER}/{LAST_LOGIN} is not a GeneralizedTime") from None
    fields: dict[str, object] = {
        "name": _name_field(entry),
        # A handful of distinct values on every account: one string object each.
        "kind": _interned(entry.first("employeeType")),
        "unit": _interned(entry.first("ou")),
        "owner": entry.first("employeeNumber"),
        "aliases": sorted(entry.all("mailLocalAddress")),
        "forward_to": sorted(entry.all("mailRoutingAddress")),
    }
    return Account(mails[0], fields, disabled_since, last_login, entry.dn, _stored_name(entry))


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
            raise ProfileError(f"{entry.dn}: address {account.address} is also on {result[key].dn}")
        result[key] = account
    return result
