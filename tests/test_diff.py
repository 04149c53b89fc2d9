"""The diff is the heart: every lifecycle cell, field drift, unmanaged accounts, and convergence."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.model import BASE, GRACE, NOW, TODAY, live_of, mailbox, state
from support.strategies import addresses, alias_lists, live_accounts, mailboxes, names  # noqa: F401

from reconciler.directory.base import Entry
from reconciler.directory.ldiffile import LdifDirectory, normalize_dn
from reconciler.directory.profiles import openldap
from reconciler.model import Account, Action, Desired, Kind, Mailbox, Status, managed_fields
from reconciler.plan.diff import diff


def plan_for(desired: Desired, *accounts: Account):
    return diff(desired, {a.address.lower(): a for a in accounts}, today=TODAY, grace_days=GRACE)


# -- the lifecycle table ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "live_disabled_days", "expected"),
    [
        (Status.ACTIVE, "absent", Action.CREATE),
        (Status.ACTIVE, None, None),
        (Status.ACTIVE, 3, Action.ENABLE),
        (Status.DISABLED, "absent", Action.CREATE),
        (Status.DISABLED, None, Action.DISABLE),
        (Status.DISABLED, 3, None),
        (Status.REMOVED, "absent", None),
        (Status.REMOVED, None, Action.DISABLE),
        (Status.REMOVED, 3, "deferred"),
        (Status.REMOVED, 30, Action.REMOVE),
        (Status.REMOVED, 400, Action.REMOVE),
    ],
)
def test_lifecycle_table(declared, live_disabled_days, expected):
    m = mailbox(status=declared)
    accounts = [] if live_disabled_days == "absent" else [live_of(m, live_disabled_days)]
    plan = plan_for(state(m), *accounts)
    if expected is None:
        assert plan.changes == () and plan.deferred == () and plan.unchanged == 1
    elif expected == "deferred":
        assert plan.changes == ()
        (waiting,) = plan.deferred
        assert waiting.eligible_on == TODAY + timedelta(days=GRACE - 3)
    else:
        (change,) = plan.changes
        assert change.action is expected
        assert plan.unchanged == 0


def test_create_carries_every_field_and_status():
    m = mailbox(status=Status.DISABLED, aliases=("an.nguyen@quangngai.gov.vn",))
    (change,) = plan_for(state(m)).changes
    assert change.before is None
    assert change.after == {**managed_fields(m), "status": "disabled"}


def test_update_lists_only_changed_fields():
    m = mailbox(aliases=("b@quangngai.gov.vn", "a@quangngai.gov.vn"))
    account = live_of(m, None, name="Nguyễn Văn Ân", aliases=["a@quangngai.gov.vn"])
    (change,) = plan_for(state(m), account).changes
    assert change.action is Action.UPDATE
    assert change.before == {"name": "Nguyễn Văn Ân", "aliases": ["a@quangngai.gov.vn"]}
    assert change.after == {"name": "Nguyễn Văn An", "aliases": ["a@quangngai.gov.vn", "b@quangngai.gov.vn"]}
    assert change.changed_fields() == ["aliases", "name"]


@pytest.mark.parametrize("field", ["name", "kind", "unit", "owner", "aliases", "forward_to"])
def test_drift_in_each_owned_field_is_an_update(field):
    m = mailbox()
    drifted = {"name": "X", "kind": "functional", "unit": "so-khac", "owner": "QN-9",
               "aliases": ["x@quangngai.gov.vn"], "forward_to": ["y@quangngai.gov.vn"]}[field]
    (change,) = plan_for(state(m), live_of(m, None, **{field: drifted})).changes
    assert change.action is Action.UPDATE and change.changed_fields() == [field]


def test_enable_and_disable_carry_field_updates_too():
    m = mailbox(status=Status.DISABLED)
    (change,) = plan_for(state(m), live_of(m, None, unit="so-cu")).changes
    assert change.action is Action.DISABLE
    assert change.after == {"unit": "so-tttt", "status": "disabled"}


def test_unmanaged_accounts_are_listed_never_planned():
    m = mailbox()
    stray = live_of(mailbox("old.account@quangngai.gov.vn"))
    plan = plan_for(state(m), live_of(m), stray)
    assert plan.changes == ()
    assert plan.unmanaged == ("old.account@quangngai.gov.vn",)


def test_address_matching_ignores_case():
    m = mailbox("annv@quangngai.gov.vn")
    live = replace(live_of(m), address="AnNV@quangngai.gov.vn")
    plan = diff(state(m), {"annv@quangngai.gov.vn": live}, today=TODAY, grace_days=GRACE)
    assert plan.changes == () and plan.unmanaged == ()


def test_changes_come_in_apply_order():
    plan = plan_for(
        state(mailbox("z@quangngai.gov.vn", Status.REMOVED), mailbox("y@quangngai.gov.vn", Status.DISABLED),
              mailbox("x@quangngai.gov.vn"), mailbox("w@quangngai.gov.vn"),
              mailbox("v@quangngai.gov.vn", name="Khác")),
        live_of(mailbox("z@quangngai.gov.vn"), 60), live_of(mailbox("y@quangngai.gov.vn")),
        live_of(mailbox("w@quangngai.gov.vn"), 5), live_of(mailbox("v@quangngai.gov.vn")),
    )
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.ENABLE, Action.UPDATE, Action.DISABLE,
                                                Action.REMOVE]


# -- convergence: applying a plan through the real profile leaves nothing to do ---------------------

def apply_through_profile(entries: dict[str, Entry], plan, desired: Desired, live: dict[str, Account]) -> None:
    by_address = {m.address: m for m in desired.mailboxes()}
    for change in plan.changes:
        op = openldap.operation_for(change, by_address.get(change.address), live.get(change.address), BASE, now=NOW)
        assert LdifDirectory._apply(entries, op) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(mailboxes(), max_size=8, unique_by=lambda m: m.address), live_accounts())
def test_applying_the_plan_converges(declared, accounts):
    desired = state(*declared)
    entries = {normalize_dn(op.dn): Entry(op.dn, {k.lower(): v for k, v in op.attrs.items()})
               for op in (openldap.entry_for(replace(m_of(a), status=Status.ACTIVE), BASE, now=NOW) for a in accounts)}
    for a in accounts:  # carry each account's disabled state into its entry
        if a.disabled_since is not None:
            entries[normalize_dn(a.dn)].attrs["pwdendtime"] = [openldap.generalized_time(a.disabled_since)]
    live = openldap.accounts(list(entries.values()))
    first = diff(desired, live, today=TODAY, grace_days=GRACE)
    apply_through_profile(entries, first, desired, live)
    after = openldap.accounts(list(entries.values()))
    second = diff(desired, after, today=TODAY, grace_days=GRACE)
    assert second.changes == ()
    assert second.unmanaged == first.unmanaged
    # Only removals wait, for accounts still inside their grace period.
    assert {d.address for d in second.deferred} == {
        m.address for m in declared if m.status is Status.REMOVED and m.address.lower() in after}


def m_of(account: Account) -> Mailbox:
    f = account.fields
    return mailbox(account.address, name=str(f["name"]), kind=Kind(str(f["kind"])), owner=str(f["owner"]),
                   unit=str(f["unit"]), aliases=tuple(f["aliases"]), forward_to=tuple(f["forward_to"]))  # type: ignore[arg-type]
