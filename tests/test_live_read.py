"""Reading an untidy directory (pure): what is a mailbox, what is not, what cannot be read, what is ignored;
`ou` as the unit's name; live policy violations; legacy declarations."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.model import BASE, NOW, TODAY, live_of, mailbox, state
from support.strategies import mailboxes

from reconciler.directory.base import Entry
from reconciler.directory.ldapfilter import FilterError, compile_filter, ignore_matcher
from reconciler.directory.profiles import openldap
from reconciler.model import Desired, SourceRef, Status, Unit
from reconciler.plan import findings, planfile
from reconciler.plan.diff import diff
from reconciler.plan.violations import live_violations
from reconciler.problems import InputError
from reconciler.settings import load

PERSON = ["top", "person", "organizationalPerson", "inetOrgPerson", "inetLocalMailRecipient"]


def entry(uid: str, *mails: str, classes: list[str] = PERSON, **attrs: list[str]) -> Entry:
    values = {"objectclass": classes, "uid": [uid], "cn": ["Nguyễn Văn An"], **{k.lower(): v for k, v in attrs.items()}}
    if mails:
        values["mail"] = list(mails)
    return Entry(f"uid={uid},{BASE}", values)


def test_every_odd_entry_is_sorted_out_and_none_stops_the_others():
    view = openldap.read_entries([
        entry("annv", "annv@quangngai.gov.vn"),
        entry("scanner"),                                                         # no mail
        Entry(f"cn=webmail,{BASE}", {"objectclass": ["applicationProcess"], "cn": ["webmail"]}),
        entry("hai", "hai@quangngai.gov.vn", "hai2@quangngai.gov.vn"),           # two mail values
        entry("nhamlan", "lan@quangngai.gov.vn"),                                # DN off its address
        entry("thu", "thu@quangngai.gov.vn", pwdEndTime=["yesterday"]),           # unparsable time
        entry("dup", "annv2@quangngai.gov.vn"), Entry(f"uid=annv2,{BASE}", {      # one address on two entries
            "objectclass": PERSON, "uid": ["annv2"], "mail": ["ANNV2@quangngai.gov.vn"]}),
        Entry(f"cn=reconciler-state,{BASE}", {"objectclass": ["applicationProcess"], "cn": ["reconciler-state"]}),
    ])
    assert list(view.accounts) == ["annv@quangngai.gov.vn", "annv2@quangngai.gov.vn"]
    assert view.not_mailboxes == (f"cn=webmail,{BASE}", f"uid=scanner,{BASE}")
    reasons = {u.dn.split(",")[0]: u.reason for u in view.unreadable}
    assert reasons["uid=hai"].startswith("entry has 2 'mail' values (hai@quangngai.gov.vn, hai2@quangngai.gov.vn)")
    assert reasons["uid=nhamlan"].startswith("the DN does not match the address lan@quangngai.gov.vn")
    assert reasons["uid=thu"] == "pwdEndTime/pwdLastSuccess/createTimestamp is not a GeneralizedTime"
    # In the flat DIT a second entry with an address must sit at another DN: that one is the odd one out.
    assert reasons["uid=dup"].startswith("the DN does not match the address annv2@quangngai.gov.vn")


def test_directory_ignore_takes_dns_and_filters():
    matcher, needed = ignore_matcher([f"uid=Scanner, {BASE}", "(&(objectClass=inetOrgPerson)(|(employeeType=service)"
                                                               "(description=*bind*)))"])
    assert matcher is not None and needed == {"objectclass", "employeetype", "description"}
    assert matcher(entry("scanner"))
    assert matcher(entry("backup", "backup@quangngai.gov.vn", employeeType=["Service"]))
    assert matcher(entry("webmail", "w@quangngai.gov.vn", description=["webmail BIND account"]))
    assert not matcher(entry("annv", "annv@quangngai.gov.vn", employeeType=["personal"]))
    view = openldap.read_entries([entry("scanner"), entry("annv", "annv@quangngai.gov.vn")], ignore=matcher)
    assert view.not_mailboxes == () and view.ignored == 1 and list(view.accounts) == ["annv@quangngai.gov.vn"]


@pytest.mark.parametrize("text", ["employeeType=service", "(employeeType=service", "(&)", "(cn=a\\zz)",
                                  "(cn=a)(cn=b)", "(=x)"])
def test_a_bad_ignore_filter_is_one_located_line(tmp_path, text):
    with pytest.raises(FilterError):
        compile_filter(text)
    if not text.startswith("("):
        return  # a string without '(' is a DN
    config = tmp_path / "reconciler.yaml"
    config.write_text("domains: [quangngai.gov.vn]\ndirectory:\n  url: ldif:d.ldif\n  base_dn: ou=m,dc=x\n"
                      f"  ignore:\n    - 'uid=scanner,ou=m,dc=x'\n    - '{text}'\n", encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load(config)
    (problem,) = raised.value.problems
    assert (problem.line, problem.path, problem.message.split(":")[0]) == (7, ("directory", "ignore", 1),
                                                                           "not an LDAP filter")


def test_ou_carries_the_unit_name_and_reads_back_as_the_unit_id():
    m = mailbox()
    add = openldap.entry_for(m, BASE, now=NOW, unit_names={"so-tttt": "Sở Thông tin và Truyền thông"})
    assert add.attrs["ou"] == ["Sở Thông tin và Truyền thông"]
    read = openldap.account_from_entry(Entry(add.dn, {k.lower(): v for k, v in add.attrs.items()}),
                                       unit_ids={"Sở Thông tin và Truyền thông": "so-tttt"})
    assert read.fields["unit"] == "so-tttt"
    # A hand-made split of the name (givenName "Văn An") is not drift; cn disagreeing with displayName is.
    hand = Entry(add.dn, {**{k.lower(): v for k, v in add.attrs.items()}, "givenname": ["Văn An"]})
    assert openldap.account_from_entry(hand).fields["name"] == "Nguyễn Văn An"
    edited = Entry(add.dn, {**hand.attrs, "cn": ["Nguyen Van An"]})
    assert openldap.account_from_entry(edited).fields["name"] == "Nguyễn Văn An (cn: Nguyen Van An)"


UNIT_NAMES = {"so-tttt": "Sở Thông tin và Truyền thông", "so-noi-vu": "Sở Nội vụ"}


@settings(max_examples=150, deadline=None)
@given(st.lists(mailboxes(), max_size=6, unique_by=lambda m: m.address),
       st.lists(st.sampled_from(["Sở Nội vụ", "So Noi vu", "so-tttt", None]), max_size=6))
def test_applying_with_unit_names_converges(declared, live_ous):
    """Whatever `ou` the live entries hold (a declared name, free text, an old id, none), one apply through
    the profile leaves a plan with nothing to do."""
    from reconciler.directory.ldiffile import LdifDirectory, normalize_dn

    placed = [replace(m, source=SourceRef(f"mailboxes/{m.unit}.yaml", i)) for i, m in enumerate(declared)]
    desired = Desired(tuple(Unit(uid, name, f"mailboxes/{uid}.yaml", tuple(m for m in placed if m.unit == uid))
                            for uid, name in UNIT_NAMES.items()))
    ids = {name: uid for uid, name in UNIT_NAMES.items()}
    entries = {}
    for m, ou in zip(declared, live_ous, strict=False):
        add = openldap.entry_for(replace(m, status=Status.ACTIVE), BASE, now=NOW)
        attrs = {k.lower(): v for k, v in add.attrs.items() if k != "ou"}
        if ou:
            attrs["ou"] = [ou]
        entries[normalize_dn(add.dn)] = Entry(add.dn, attrs)
    live = openldap.read_entries(list(entries.values()), unit_ids=ids).accounts
    plan = diff(desired, live, today=TODAY, grace_days=30)
    by_address = {m.address: m for m in desired.mailboxes()}
    for change in plan.changes:
        op = openldap.operation_for(change, by_address.get(change.address), live.get(change.address), BASE, now=NOW,
                                    unit_names=UNIT_NAMES)
        assert LdifDirectory._apply(entries, op) is None
    after = openldap.read_entries(list(entries.values()), unit_ids=ids).accounts
    assert diff(desired, after, today=TODAY, grace_days=30).changes == ()
    assert all(e.first("ou") in (None, *UNIT_NAMES.values()) for e in entries.values()
               if e.first("mail") and e.first("mail").lower() in {m.address.lower() for m in declared
                                                                  if m.status is not Status.REMOVED})


def test_forwards_and_aliases_the_policy_forbids_are_violations_managed_or_not():
    managed = live_of(mailbox(aliases=("an@quangngai.gov.vn",)), forward_to=["an1980@gmail.com"])
    other = live_of(mailbox("cu@quangngai.gov.vn"), aliases=["cu@mail.yahoo.com", "cu@quangngai.edu.vn"])
    found = live_violations({a.address: a for a in (managed, other)}, ["annv@quangngai.gov.vn"],
                            ("quangngai.gov.vn",), ("gmail.com", "yahoo.com"))
    assert [(v.address, v.field, v.value, v.reason, v.managed) for v in found] == [
        ("annv@quangngai.gov.vn", "forward_to", "an1980@gmail.com", "public mail provider (gmail.com)", True),
        ("cu@quangngai.gov.vn", "aliases", "cu@mail.yahoo.com", "public mail provider (mail.yahoo.com)", False),
        ("cu@quangngai.gov.vn", "aliases", "cu@quangngai.edu.vn", "outside the official domains (quangngai.edu.vn)",
         False)]
    declared = state(mailbox(aliases=("an@quangngai.gov.vn",)))
    plan = replace(diff(declared, {managed.address: managed}, today=TODAY, grace_days=30), violations=found)
    # The managed one is repaired like any drift; every format shows them, and the drift check sees them.
    assert [c.after for c in plan.changes] == [{"forward_to": []}]
    assert plan.needs_attention and not replace(plan, changes=()).has_changes
    assert replace(plan, changes=()).needs_attention
    data = planfile.to_json(plan)
    assert data["summary"]["violations"] == 3 and data["violations"][0]["managed"] is True
    assert planfile.checksum(plan) == planfile.checksum(replace(plan, violations=()))  # not part of what apply does
    assert findings.VIOLATIONS_TITLE in " ".join(findings.text_lines(plan))


def test_a_legacy_mailbox_is_never_created():
    legacy = mailbox("thuyle1980@gmail.com", Status.DISABLED, legacy=True)
    assert diff(state(legacy), {}, today=TODAY, grace_days=30).changes == ()
    live = live_of(legacy)
    (change,) = diff(state(legacy), {live.address: live}, today=TODAY, grace_days=30).changes
    assert change.action.value == "disable"


def test_renaming_a_unit_in_the_pull_request_marks_its_ou_updates_as_the_change():
    from reconciler.audit.lifecycle import CHANGE, DRIFT, mark_origins

    m = replace(mailbox(), source=SourceRef("mailboxes/so-tttt.yaml", 0))
    base = Desired((Unit("so-tttt", "Sở TT&TT", "mailboxes/so-tttt.yaml", (m,)),))
    head = Desired((Unit("so-tttt", "Sở Thông tin và Truyền thông", "mailboxes/so-tttt.yaml", (m,)),))
    live = live_of(m, unit="Sở TT&TT (not a unit name)", owner="QN-9")
    plan = diff(head, {live.address: live}, today=TODAY, grace_days=30)
    (change,) = mark_origins(plan, head, base).changes
    assert change.origin == CHANGE
    (unchanged_name,) = mark_origins(plan, head, head).changes
    assert unchanged_name.origin == DRIFT
