"""Directory profiles: how a mailbox maps to one directory flavour, chosen by ``directory.profile``.

A profile is a module with the names of :class:`Profile`. Further flavours (iRedMail's
``accountStatus``, 389-DS's ``nsAccountLock``, Active Directory) register here beside ``openldap``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import ModuleType
from typing import Protocol, cast

from reconciler.directory.base import Entry, Operation
from reconciler.directory.profiles import openldap
from reconciler.i18n import _
from reconciler.model import Account, Change, LiveView, Mailbox
from reconciler.problems import ReconcilerError


class Profile(Protocol):
    NAME: str
    OBJECT_CLASS: str
    READ_ATTRIBUTES: Sequence[str]
    #: the attribute whose presence marks a disabled account (the removal re-check asserts on it)
    DISABLED_MARKER: str
    #: what a review reads beyond a plan (creation time, last login)
    REVIEW_READ_ATTRIBUTES: Sequence[str]
    #: the search filter's object class that reads every entry, and what is read of each
    ALL_ENTRIES: str
    SCAN_ATTRIBUTES: Sequence[str]

    def accounts(self, entries: Mapping[str, Entry] | list[Entry]) -> dict[str, Account]: ...

    def operation_for(self, change: Change, mailbox: Mailbox | None, account: Account | None, base_dn: str,
                      *, now: datetime) -> Operation: ...

    def dn_for(self, address: str, base_dn: str) -> str: ...

    def account_from_entry(self, entry: Entry, *, unit_ids: Mapping[str, str] | None = None) -> Account: ...

    def generalized_time(self, moment: datetime) -> str: ...

    def unit_field(self, ou: str | None, unit_ids: Mapping[str, str] | None) -> str | None: ...

    def read_entries(self, entries: Mapping[str, Entry] | Iterable[Entry], *,
                     unit_ids: Mapping[str, str] | None = None,
                     ignore: Callable[[Entry], bool] | None = None) -> LiveView: ...


PROFILES: dict[str, ModuleType] = {openldap.NAME: openldap}


def get(name: str) -> Profile:
    """The profile called ``name``, or one clear line listing the known ones."""
    module = PROFILES.get(name)
    if module is None:
        raise ReconcilerError(_("unknown directory profile '{name}' (directory.profile); known: {known}").format(
            name=name, known=", ".join(sorted(PROFILES))))
    return cast(Profile, module)
