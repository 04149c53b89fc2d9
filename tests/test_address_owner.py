"""An address belongs to one account, live or declared; an adopted account is declared as it is live.

Against the real slapd (and the LDIF directory): an unmanaged live account `giamdoc@` (the director)
must not have its mail rerouted by a pull request that declares its address as someone's alias.
"""

from __future__ import annotations

import pytest
from support.backends import BASE_DN, Backend, dn_of
from support.units import people, unit_file

GIAMDOC = "giamdoc@quangngai.gov.vn"


def live_account(backend: Backend, address: str, *, aliases: tuple[str, ...] = (), disabled: bool = False) -> None:
    """An account created by hand in the directory, as an administrator would."""
    local = address.partition("@")[0]
    attrs = {"objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson", "inetLocalMailRecipient"],
             "uid": [local], "mail": [address], "cn": ["Phạm Giám Đốc"], "sn": ["Phạm"],
             "displayName": ["Phạm Giám Đốc"], "givenName": ["Đốc"]}
    if aliases:
        attrs["mailLocalAddress"] = list(aliases)
    if disabled:
        attrs["pwdEndTime"] = ["20200101000000Z"]
    backend.add(dn_of(address), attrs)


@pytest.fixture
def cli(repo, backend, run_cli):
    def run(*args: str):
        if args[0] == "apply" and repo.git.is_dirty(untracked_files=True):
            repo.commit()
        return run_cli(*args, cwd=repo.root, env=backend.env)

    return run


def test_alias_equal_to_an_unmanaged_live_address_is_refused_by_plan_and_apply(repo, backend, cli):
    live_account(backend, GIAMDOC)
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn", "aliases": [GIAMDOC]}]))
    assert cli("validate").exit_code == 0  # offline: the files alone are fine

    plan = cli("plan")
    assert plan.exit_code == 1
    lines = plan.stderr.strip().splitlines()
    assert len(lines) == 1, plan.output
    assert lines[0].startswith(
        f"mailboxes/so-tttt.yaml:10:15: annv@quangngai.gov.vn: mailboxes[0].aliases[0]: {GIAMDOC} ")
    assert GIAMDOC in lines[0] and "annv@quangngai.gov.vn" in lines[0]
    assert f"uid=giamdoc,{BASE_DN}" in lines[0] and "unmanaged" in lines[0]

    applied = cli("apply", "--yes")
    assert applied.exit_code == 1
    assert backend.entry("annv@quangngai.gov.vn") is None  # nothing was written
    assert backend.entry(GIAMDOC)["mail"] == [GIAMDOC]


def test_new_address_equal_to_a_live_alias_is_refused(repo, backend, cli):
    live_account(backend, GIAMDOC, aliases=("giamdoc.ubnd@quangngai.gov.vn",))
    repo.write("so-tttt.yaml", unit_file([{"address": "giamdoc.ubnd@quangngai.gov.vn"}]))
    plan = cli("plan")
    assert plan.exit_code == 1
    assert ": giamdoc.ubnd@quangngai.gov.vn: mailboxes[0].address: giamdoc.ubnd@quangngai.gov.vn is an " \
           f"alias of the live account {GIAMDOC}" in plan.stderr


def test_an_alias_may_move_between_managed_mailboxes_in_one_plan(repo, backend, cli):
    repo.write("so-tttt.yaml", unit_file([
        {"address": "annv@quangngai.gov.vn", "aliases": ["vanthu@quangngai.gov.vn"]},
        {"address": "binhtt@quangngai.gov.vn"}]))
    assert cli("apply", "--yes").exit_code == 0
    repo.write("so-tttt.yaml", unit_file([
        {"address": "annv@quangngai.gov.vn"},
        {"address": "binhtt@quangngai.gov.vn", "aliases": ["vanthu@quangngai.gov.vn"]}]))
    moved = cli("plan")
    assert moved.exit_code == 0, moved.output
    # Taking it while the other mailbox keeps it is a takeover, managed or not.
    repo.write("so-tttt.yaml", unit_file([
        {"address": "annv@quangngai.gov.vn", "aliases": ["vanthu@quangngai.gov.vn"]},
        {"address": "binhtt@quangngai.gov.vn", "aliases": ["vanthu@quangngai.gov.vn"]}]))
    # (validation refuses the duplicate among files before the directory is asked)
    assert cli("plan").exit_code == 1


def test_postfix_alias_map_cannot_be_hijacked(repo, slapd, run_cli):
    """The reference Postfix map still delivers the director's mail to the director after the attempt."""
    from support.mailserver import postmap_query

    backend = Backend("slapd", repo.root, slapd, {"RECONCILER_BIND_DN": slapd.admin_dn,
                                                   "RECONCILER_BIND_PASSWORD": slapd.admin_password})
    backend.configure(repo.config)
    live_account(backend, GIAMDOC)
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn", "aliases": [GIAMDOC]}]))
    repo.commit()
    applied = run_cli("apply", "--yes", cwd=repo.root, env=backend.env)
    assert applied.exit_code == 1
    assert postmap_query(slapd, "virtual-alias-maps", GIAMDOC) is None
    assert postmap_query(slapd, "virtual-mailbox-maps", GIAMDOC) == GIAMDOC


def test_validate_with_the_directory_refuses_the_takeover(repo, backend, cli):
    live_account(backend, GIAMDOC)
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn"}]))
    base = repo.commit()
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn", "aliases": [GIAMDOC]}]))
    assert cli("validate", "--base", base, "--offline").exit_code == 0
    checked = cli("validate", "--base", base, "--live")
    assert checked.exit_code == 1
    assert "mailboxes[0].aliases[0]" in checked.stdout and f"uid=giamdoc,{BASE_DN}" in checked.stdout


def test_adoption_keeps_the_live_status(repo, backend, cli):
    """A pull request may adopt a live account only as it is live: no adopt-and-delete in one merge."""
    live_account(backend, GIAMDOC, disabled=True)
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn"}]))
    base = repo.commit()
    adopt = [{"address": "annv@quangngai.gov.vn"}, {"address": GIAMDOC, "owner": "QN-9", "status": "removed"}]
    repo.write("so-tttt.yaml", unit_file(adopt))
    for command in (("validate", "--base", base, "--live"), ("plan", "--base", base)):
        refused = cli(*command)
        assert refused.exit_code == 1, command
        assert f"mailboxes/so-tttt.yaml:14:13: {GIAMDOC}: mailboxes[1].status: this declaration adopts a live " \
               "account" in refused.output
        assert "declare it status: disabled" in refused.output
    adopt[1]["status"] = "disabled"
    repo.write("so-tttt.yaml", unit_file(adopt))
    assert cli("validate", "--base", base, "--live").exit_code == 0
    assert cli("plan", "--base", base).exit_code == 0


def test_adopting_an_active_account_as_disabled_is_refused(repo, backend, cli):
    live_account(backend, GIAMDOC)
    repo.write("so-tttt.yaml", unit_file(people(1)))
    base = repo.commit()
    repo.write("so-tttt.yaml", unit_file([*people(1), {"address": GIAMDOC, "owner": "QN-9", "status": "disabled"}]))
    refused = cli("plan", "--base", base)
    assert refused.exit_code == 1 and "declare it status: active" in refused.output


# -- the rule itself, pure ------------------------------------------------------------------------------------


def _mailbox(address: str, *aliases: str, status: str = "active", index: int = 0, owner: str | None = None):
    from reconciler.model import Kind, Mailbox, Owner, SourceRef, Status

    return Mailbox(address, "An", Kind.PERSONAL, Owner(owner or f"QN-{index}", "An"), Status(status), "so-tttt",
                   aliases=aliases, source=SourceRef("mailboxes/so-tttt.yaml", index))


def _account(address: str, *aliases: str):
    from reconciler.model import Account

    return Account(address, {"aliases": list(aliases)}, dn=f"uid={address.partition('@')[0]},{BASE_DN}")


def _conflicts(mailboxes, accounts, changes=()):
    from reconciler.model import Desired, Plan, Unit
    from reconciler.plan.ownership import address_conflicts

    desired = Desired((Unit("so-tttt", "Sở", "mailboxes/so-tttt.yaml", tuple(mailboxes)),))
    return address_conflicts(desired, {a.address: a for a in accounts}, Plan(tuple(changes), 0, ()))


def test_a_tombstone_writes_nothing_so_it_takes_nothing():
    live = [_account(GIAMDOC, "x@quangngai.gov.vn")]
    assert _conflicts([_mailbox("old@quangngai.gov.vn", "x@quangngai.gov.vn", status="removed")], live) == []
    assert len(_conflicts([_mailbox("old@quangngai.gov.vn", "x@quangngai.gov.vn", status="disabled")], live)) == 1


def test_an_alias_is_released_only_when_the_plan_takes_it_away():
    from reconciler.model import Action, Change

    live = [_account("annv@quangngai.gov.vn", "vanthu@quangngai.gov.vn"), _account("binhtt@quangngai.gov.vn")]
    declared = [_mailbox("annv@quangngai.gov.vn", "vanthu@quangngai.gov.vn", "an2@quangngai.gov.vn"),
                _mailbox("binhtt@quangngai.gov.vn", "vanthu@quangngai.gov.vn", index=1)]
    keeps = Change(Action.UPDATE, "annv@quangngai.gov.vn", "so-tttt", {"aliases": ["vanthu@quangngai.gov.vn"]},
                   {"aliases": ["an2@quangngai.gov.vn", "vanthu@quangngai.gov.vn"]})
    assert len(_conflicts(declared, live, [keeps])) == 1  # annv's aliases change, but it keeps vanthu@
    gives = Change(Action.UPDATE, "annv@quangngai.gov.vn", "so-tttt", {"aliases": ["vanthu@quangngai.gov.vn"]},
                   {"aliases": []})
    assert _conflicts([_mailbox("annv@quangngai.gov.vn"), declared[1]], live, [gives]) == []
    assert len(_conflicts([_mailbox("annv@quangngai.gov.vn"), declared[1]], live, [])) == 1  # not in this plan


@pytest.mark.parametrize(("old_status", "same_owner", "refused"), [
    ("disabled", True, False), ("removed", True, False),   # a rename: the old address becomes an alias
    ("active", True, True),                                 # both would answer to it
    ("disabled", False, True),                              # another person's retired address: a takeover
])
def test_a_renamed_address_may_become_an_alias_of_the_same_owners_new_mailbox(old_status, same_owner, refused):
    old, new = "annv@quangngai.gov.vn", "an.nguyenvan@quangngai.gov.vn"
    live = [_account(old), _account(new)]
    declared = [_mailbox(old, status=old_status, owner="QN-1"),
                _mailbox(new, old, index=1, owner="QN-1" if same_owner else "QN-2")]
    found = _conflicts(declared, live)
    assert bool(found) is refused
    if refused:
        assert found[0].path == ("mailboxes", 1, "aliases", 0) and found[0].subject == new


def test_the_new_mailbox_itself_may_not_take_the_old_address():
    """Only as an alias: a mailbox declared at the address of the same owner's retired one is a clash."""
    live = [_account("annv@quangngai.gov.vn", "an@quangngai.gov.vn")]
    declared = [_mailbox("other@quangngai.gov.vn", status="disabled", owner="QN-1"),
                _mailbox("an@quangngai.gov.vn", index=1, owner="QN-1")]
    assert len(_conflicts(declared, live)) == 1
