"""Model values for tests: a mailbox, a declared state, a live account, written in one line each."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from reconciler.directory.profiles import openldap
from reconciler.model import Account, Desired, Kind, Mailbox, Owner, SourceRef, Status, Unit, managed_fields

TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
GRACE = 30
BASE = "ou=mailboxes,dc=quangngai,dc=gov,dc=vn"


def mailbox(address: str = "annv@quangngai.gov.vn", status: Status = Status.ACTIVE, **kw) -> Mailbox:
    return Mailbox(address=address, name=kw.pop("name", "Nguyễn Văn An"), kind=kw.pop("kind", Kind.PERSONAL),
                   owner=Owner(kw.pop("owner", "QN-1"), "Nguyễn Văn An"), status=status,
                   unit=kw.pop("unit", "so-tttt"), **kw)


def state(*mailboxes: Mailbox) -> Desired:
    placed = tuple(replace(m, source=SourceRef("mailboxes/so-tttt.yaml", i)) for i, m in enumerate(mailboxes))
    return Desired((Unit("so-tttt", "Sở TT&TT", "mailboxes/so-tttt.yaml", placed),))


def live_of(m: Mailbox, disabled_days_ago: int | None = None, **field_overrides) -> Account:
    fields = {**managed_fields(m), **field_overrides}
    since = None if disabled_days_ago is None else NOW - timedelta(days=disabled_days_ago)
    return Account(m.address, fields, since, None, openldap.dn_for(m.address, BASE))
