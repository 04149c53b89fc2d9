"""The removal re-check reads the live entry at delete time, not the plan's snapshot.

The plan is made while an account has been disabled for long enough; before the delete, an
administrator enables it again (or disables it afresh). The delete must be refused by the directory
itself (an LDAP assertion control on pwdEndTime; the LDIF directory checks the same under its lock).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from support.backends import dn_of
from support.units import one_mailbox as unit

from reconciler import settings as settings_file
from reconciler.directory import open_directory
from reconciler.plan import apply as reconcile

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ANNV = "annv@quangngai.gov.vn"


def planned_removal(repo, backend):
    """annv disabled since 2025 and declared removed: the plan removes it."""
    backend.add(dn_of(ANNV), {
        "objectClass": ["inetOrgPerson", "inetLocalMailRecipient"], "uid": ["annv"], "mail": [ANNV],
        "cn": ["Nguyễn Văn An"], "displayName": ["Nguyễn Văn An"], "sn": ["Nguyễn"], "givenName": ["An"],
        "ou": ["so-tttt"], "employeeNumber": ["QN-1"], "employeeType": ["personal"],
        "pwdEndTime": ["20250101000000Z"]})
    repo.write("so-tttt.yaml", unit("removed"))
    loaded = settings_file.with_environment(settings_file.load(repo.config), backend.env)
    directory = open_directory(loaded)
    computed = reconcile.compute(loaded, directory, NOW.date())
    assert [(c.action.value, c.address) for c in computed.plan.changes] == [("remove", ANNV)]
    return loaded, directory, computed


@pytest.mark.parametrize("meanwhile", ["enabled again", "disabled again recently", "unchanged"])
def test_a_delete_is_refused_when_the_live_entry_changed_after_the_plan(repo, backend, client, meanwhile):
    loaded, directory, computed = planned_removal(repo, backend)
    if meanwhile == "enabled again":
        backend.modify(ANNV, pwdEndTime=[])
    elif meanwhile == "disabled again recently":
        backend.modify(ANNV, pwdEndTime=["20261127000000Z"])
    try:
        result = reconcile.apply_plan(computed, loaded, directory, now=NOW)
    finally:
        directory.close()
    (outcome,) = result.outcomes
    if meanwhile == "unchanged":
        assert outcome.ok, outcome.error
        assert backend.entry(ANNV) is None
    else:
        assert outcome.error and "refusing to remove" in outcome.error and "re-read at delete time" in outcome.error
        assert backend.entry(ANNV) is not None


def test_the_cutoff_is_the_grace_period_to_the_day(repo, backend, client):
    """Disabled exactly removal_grace_days (30) before today: removable; a second later in that day: not."""
    loaded, directory, computed = planned_removal(repo, backend)
    backend.modify(ANNV, pwdEndTime=["20261029235959Z"])  # 30 days before 2026-11-28, last second of the day
    try:
        assert reconcile.apply_plan(computed, loaded, directory, now=NOW).outcomes[0].ok
    finally:
        directory.close()
    loaded, directory, computed = planned_removal(repo, backend)
    backend.modify(ANNV, pwdEndTime=["20261030000000Z"])  # 29 days: too early
    try:
        outcome = reconcile.apply_plan(computed, loaded, directory, now=NOW).outcomes[0]
    finally:
        directory.close()
    assert outcome.error and "refusing to remove" in outcome.error
