"""Every branch of the thresholds and the grace period, at its boundaries (1, exactly the limit, just
over, below the minimum), so that flipping a comparison or skipping a check fails a test.

See scripts/mutation: it flips the comparisons of reconciler/plan/safety.py one at a time and runs this
file; each mutant must make a test here fail.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from reconciler.audit.records import ApplyRecord
from reconciler.model import Account, Action, Change, Desired, Kind, Mailbox, Owner, Plan, SourceRef, Status, Unit
from reconciler.plan import safety
from reconciler.settings import PolicySettings

POLICY = PolicySettings(max_disable_fraction=0.10, threshold_min_existing=20, max_update_fraction=0.30,
                        threshold_window_days=7)
TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def plan(**counts: int) -> Plan:
    changes = tuple(Change(Action(action), f"{action}{i}@quangngai.gov.vn", "so-tttt", {}, {})
                    for action, n in counts.items() for i in range(n))
    return Plan(changes, 0, ())


# -- max_disable_fraction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("disable", "remove", "managed", "refused"), [
    (0, 0, 20, False),   # nothing taken away
    (1, 0, 20, False),   # one routine disable on 20 accounts
    (2, 0, 20, False),   # exactly 10 %
    (1, 1, 20, False),   # exactly 10 %, removals count too
    (3, 0, 20, True),    # just over
    (2, 1, 20, True),    # just over, a removal tips it
    (0, 3, 20, True),    # removals alone
    (19, 0, 19, False),  # below threshold_min_existing: no threshold
    (10, 0, 100, False),  # exactly 10 % of a bigger directory
    (11, 0, 100, True),
])
def test_disable_threshold_boundaries(disable, remove, managed, refused):
    reason = safety.threshold_refusal(plan(disable=disable, remove=remove), managed, POLICY)
    assert (reason is not None) is refused
    if refused:
        assert f"{disable + remove} of {managed} managed accounts" in reason and "--force" in reason


def test_threshold_min_existing_zero_still_guards_an_empty_directory():
    policy = replace(POLICY, threshold_min_existing=0)
    assert safety.threshold_refusal(plan(disable=1), 0, policy) is not None
    assert safety.threshold_refusal(plan(), 0, policy) is None


def test_creates_and_enables_never_count():
    assert safety.threshold_refusal(plan(create=50, enable=50), 20, POLICY) is None


# -- max_update_fraction ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("updates", "managed", "refused"), [
    (0, 20, False), (1, 20, False), (6, 20, False), (7, 20, True), (19, 19, False), (30, 100, False), (31, 100, True),
])
def test_update_threshold_boundaries(updates, managed, refused):
    reason = safety.update_refusal(plan(update=updates), managed, POLICY)
    assert (reason is not None) is refused
    if refused:
        assert f"updates {updates} of {managed}" in reason


def test_disables_do_not_count_as_updates():
    assert safety.update_refusal(plan(disable=10), 20, POLICY) is None


# -- the rolling window -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("now", "recent", "managed", "refused"), [
    (2, 0, 20, False),   # this apply alone: exactly 10 %
    (1, 1, 20, False),   # with the window: exactly 10 %
    (2, 1, 20, True),    # with the window: just over
    (1, 2, 20, True),
    (0, 19, 20, False),  # nothing taken away now: nothing to refuse
    (3, 16, 19, False),  # below threshold_min_existing
])
def test_window_boundaries(now, recent, managed, refused):
    reason = safety.window_refusal(plan(disable=now), managed, POLICY, recent)
    assert (reason is not None) is refused
    if refused:
        assert f"{now + recent} of {managed}" in reason and "threshold_window_days" in reason


def test_a_window_of_zero_days_is_off():
    assert safety.window_refusal(plan(disable=2), 20, replace(POLICY, threshold_window_days=0), 10) is None
    assert safety.window_refusal(plan(disable=2), 20, replace(POLICY, threshold_window_days=1), 10) is not None


def test_refusals_collects_every_threshold():
    assert safety.refusals(plan(disable=2, update=6), 20, POLICY, 0) == []
    assert len(safety.refusals(plan(disable=3, update=7), 20, POLICY, 0)) == 3
    assert len(safety.refusals(plan(disable=2), 20, POLICY, 1)) == 1


def record(applied_at: str, *changes: tuple[str, str]) -> ApplyRecord:
    return ApplyRecord("c0ffee", applied_at, "ci", None, "ldap://x",
                       [{"action": a, "address": f"{a}@x", "outcome": o} for a, o in changes])


def test_recent_disables_and_removals_come_from_the_apply_records():
    since = NOW - timedelta(days=7)
    records = [
        record((since - timedelta(seconds=1)).isoformat(), ("disable", "ok")),   # just before the window
        record(since.isoformat(), ("disable", "ok"), ("remove", "ok")),           # exactly at its start
        record(NOW.isoformat(), ("disable", "failed"), ("create", "ok"), ("update", "ok"), ("enable", "ok")),
        record("2026-11-27T10:00:00", ("disable", "ok")),                         # no offset: not trusted
        record("not a time", ("disable", "ok")),
    ]
    assert safety.recent_taken_away(records, since) == 2


def mailbox(address: str, status: Status = Status.ACTIVE, index: int = 0) -> Mailbox:
    return Mailbox(address, "Nguyễn Văn An", Kind.PERSONAL, Owner("QN-1", "An"), status, "so-tttt",
                   source=SourceRef("mailboxes/so-tttt.yaml", index))


def desired(*mailboxes: Mailbox) -> Desired:
    return Desired((Unit("so-tttt", "Sở", "mailboxes/so-tttt.yaml", tuple(mailboxes)),))


def account(address: str, disabled_days: int | None = None) -> Account:
    since = None if disabled_days is None else NOW - timedelta(days=disabled_days)
    return Account(address, {}, disabled_since=since, dn=f"uid={address.partition('@')[0]},ou=x")


def test_managed_before_counts_live_accounts_the_earlier_declarations_had():
    live = {a: account(a) for a in ("a@x", "b@x", "c@x")}
    assert safety.managed_before(live, desired(mailbox("a@x"), mailbox("z@x"))) == 1
    assert safety.managed_before(live, desired()) == 0


# -- adoption -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("declared", "disabled_days", "refused"), [
    (Status.ACTIVE, None, False), (Status.DISABLED, 400, False),
    (Status.DISABLED, None, True), (Status.REMOVED, None, True),
    (Status.ACTIVE, 400, True), (Status.REMOVED, 400, True),
])
def test_an_adopted_account_is_declared_as_it_is_live(declared, disabled_days, refused):
    live = {"giamdoc@x": account("giamdoc@x", disabled_days)}
    found = safety.adoption_problems(desired(), desired(mailbox("giamdoc@x", declared)), live)
    assert bool(found) is refused
    if refused:
        assert found[0].path == ("mailboxes", 0, "status") and found[0].rule == "adoption"
        assert found[0].subject == "giamdoc@x"  # the problem line names the mailbox


@pytest.mark.parametrize(("declared", "refused"), [(Status.DISABLED, False), (Status.REMOVED, True)])
def test_a_legacy_account_may_be_adopted_only_to_be_disabled(declared, refused):
    """An address the policy no longer allows (thuyle1980@gmail.com) cannot be declared active: adopting
    it disabled is how it is retired in a pull request; its removal still waits for a later one."""
    live = {"thuyle1980@gmail.com": account("thuyle1980@gmail.com")}
    legacy = dataclasses.replace(mailbox("thuyle1980@gmail.com", declared), legacy=True)
    assert bool(safety.adoption_problems(desired(), desired(legacy), live)) is refused
    assert safety.adoption_problems(desired(), desired(mailbox("thuyle1980@gmail.com", declared)), live)


def test_only_adoptions_are_held_to_the_live_status():
    live = {"a@x": account("a@x"), "b@x": account("b@x")}
    base = desired(mailbox("a@x"))
    head = desired(mailbox("a@x", Status.DISABLED), mailbox("new@x", Status.DISABLED, 1))
    assert safety.adoption_problems(base, head, live) == []  # a managed lifecycle change; a new mailbox


# -- the grace period --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("disabled_days", "allowed"), [(29, False), (30, True), (31, True), (0, False)])
def test_removal_grace_period_boundaries(disabled_days, allowed):
    reason = safety.removal_refusal(account("a@x", disabled_days), TODAY, 30)
    assert (reason is None) is allowed
    if not allowed:
        assert "removal allowed from" in reason


def test_removal_needs_a_disabled_account_that_exists():
    assert "not disabled" in safety.removal_refusal(account("a@x"), TODAY, 30)
    assert "no such account" in safety.removal_refusal(None, TODAY, 30)
    assert safety.removal_refusal(account("a@x", 0), TODAY, 0) is None  # a grace period of 0 days


def test_the_refusal_names_the_disable_day_in_the_clocks_zone():
    """Disabled at 20:00 UTC on 01/11 is 03:00 on 02/11 in Vietnam: the day a person reads is the local one."""
    from zoneinfo import ZoneInfo

    account = Account("a@x", {}, disabled_since=datetime(2026, 11, 1, 20, 0, tzinfo=UTC), dn="uid=a,ou=x")
    vietnam = safety.removal_refusal(account, date(2026, 11, 10), 30, tz=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert vietnam is not None and "disabled since 02/11/2026" in vietnam
    utc = safety.removal_refusal(account, date(2026, 11, 10), 30)
    assert utc is not None and "disabled since 01/11/2026" in utc
