"""Thresholds end to end: the denominator is the accounts managed before the change, and a mass disable
split into small applies is stopped by the rolling window (apply records in git notes), unless --force."""

from __future__ import annotations

import pytest
from support.backends import dn_of
from support.units import people, unit_file

from reconciler.directory.base import Add


@pytest.fixture
def apply(repo, run_cli):
    def run(*extra: str):
        repo.commit()
        return run_cli("apply", "--yes", *extra, cwd=repo.root)

    return run


def declare(repo, mailboxes: list[dict]) -> None:
    repo.write("so-tttt.yaml", unit_file(mailboxes))


def test_small_applies_in_a_row_are_stopped_by_the_window(repo, ldif, apply):
    staff = people(30)
    declare(repo, staff)
    assert apply().exit_code == 0
    for i in range(3):  # 3 of 30: exactly 10 %
        staff[i]["status"] = "disabled"
    declare(repo, staff)
    first = apply()
    assert first.exit_code == 0, first.output
    for i in range(3, 6):  # 3 more in the same week: 6 of 30 = 20 %
        staff[i]["status"] = "disabled"
    declare(repo, staff)
    second = apply()
    assert second.exit_code == 1
    assert "with the 3 disables and removals applied in the last 7 days" in second.output
    assert "6 of 30 managed accounts" in second.output
    assert "pwdendtime" not in ldif.entry("user05@quangngai.gov.vn")
    forced = apply("--force")
    assert forced.exit_code == 0, forced.output
    assert "pwdendtime" in ldif.entry("user05@quangngai.gov.vn")


def test_adoptions_do_not_inflate_the_denominator(repo, ldif, apply):
    staff = people(30)
    declare(repo, staff)
    assert apply().exit_code == 0
    adopted = [{"address": f"cu{i:03d}@quangngai.gov.vn"} for i in range(300)]
    ldif.write(*(Add(dn_of(m["address"]), {
        "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson", "inetLocalMailRecipient"],
        "uid": [m["address"].partition("@")[0]], "mail": [m["address"]], "cn": ["Nguyễn Văn An"],
        "displayName": ["Nguyễn Văn An"], "sn": ["Nguyễn"], "givenName": ["An"], "ou": ["so-tttt"],
        "employeeNumber": [f"QN-{m['address'].split('@')[0]}"], "employeeType": ["personal"]}) for m in adopted))
    for m in staff[:29]:
        m["status"] = "disabled"
    declare(repo, staff + adopted)  # 29 of 30 disabled, hidden among 300 adoptions
    refused = apply()
    assert refused.exit_code == 1
    assert "disables or removes 29 of 30 managed accounts" in refused.output


def test_mass_updates_need_force(repo, ldif, apply):
    staff = people(20)
    declare(repo, staff)
    assert apply().exit_code == 0
    for m in staff[:7]:  # 7 of 20 = 35 %, over max_update_fraction 30 %
        m["name"] = "Lê Văn Đổi"
    declare(repo, staff)
    refused = apply()
    assert refused.exit_code == 1 and "the plan updates 7 of 20 managed accounts" in refused.output
    assert ldif.entry("user00@quangngai.gov.vn")["cn"] == ["Nguyễn Văn An"]
    assert apply("--force").exit_code == 0
    assert ldif.entry("user00@quangngai.gov.vn")["cn"] == ["Lê Văn Đổi"]
