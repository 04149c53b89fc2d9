"""Each province rule is a named check; every test here fails when its rule is taken out."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from reconciler.declarations import policy
from reconciler.model import Desired, Kind, Mailbox, Owner, SourceRef, Status, Unit

CTX = policy.PolicyContext(("quangngai.gov.vn",), ("gmail.com", "yahoo.com", "yahoo.com.vn"), date(2026, 11, 28))


def person(address: str, owner_id: str = "QN-1", **kw) -> Mailbox:
    name = kw.pop("name", "Nguyễn Văn An")
    return Mailbox(address=address, name=name, kind=kw.pop("kind", Kind.PERSONAL),
                   owner=Owner(owner_id, name), status=kw.pop("status", Status.ACTIVE), unit="so-tttt", **kw)


def desired(*mailboxes: Mailbox, file: str = "mailboxes/so-tttt.yaml", unit_id: str = "so-tttt") -> Desired:
    placed = tuple(replace(m, source=SourceRef(file, i)) for i, m in enumerate(mailboxes))
    return Desired((Unit(unit_id, "Sở TT&TT", file, placed),))


def found(check, state: Desired) -> list[tuple[str, str]]:
    return [(p.field, p.message) for p in check(state, CTX)]


def test_valid_state_has_no_problems():
    state = desired(
        person("annv@quangngai.gov.vn", aliases=("an.nguyen@quangngai.gov.vn",),
               forward_to=("lanhdao@quangngai.gov.vn",), expires=date(2027, 1, 1)),
        person("vanthu.stttt@quangngai.gov.vn", kind=Kind.FUNCTIONAL),
        person("lanhdao@quangngai.gov.vn", "QN-9", kind=Kind.FUNCTIONAL),
        person("lanhtt@quangngai.gov.vn", "QN-9"),
        person("binhtt@quangngai.gov.vn", "QN-2", name="Trần Thị Bình"),
    )
    assert policy.check(state, CTX) == []


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("AnNV@quangngai.gov.vn", "addresses are lowercase; use 'annv@quangngai.gov.vn'"),
        ("dũngđn@quangngai.gov.vn", "use 'dungdn@quangngai.gov.vn'"),
        (".annv@quangngai.gov.vn", "must not start or end with a dot"),
        ("annv.@quangngai.gov.vn", "must not start or end with a dot"),
        ("an..nv@quangngai.gov.vn", "two dots in a row"),
        ("an+nv@quangngai.gov.vn", "found '+'"),
    ],
)
def test_address_format(address, message):
    (problem,) = found(policy.address_format, desired(person(address)))
    assert problem[0] == "mailboxes[0].address"
    assert message in problem[1]


def test_address_format_covers_aliases_and_forwards():
    state = desired(person("annv@quangngai.gov.vn", aliases=("Ân@quangngai.gov.vn",),
                           forward_to=("x..y@quangngai.gov.vn",)))
    assert [f for f, _ in found(policy.address_format, state)] == ["mailboxes[0].aliases[0]",
                                                                     "mailboxes[0].forward_to[0]"]


def test_official_domain():
    state = desired(person("annv@quangngai.gov.vn", aliases=("annv@gmail.com", "annv@danang.gov.vn")))
    problems = found(policy.official_domain, state)
    assert problems[0][0] == "mailboxes[0].aliases[0]" and "public mail provider (gmail.com)" in problems[0][1]
    assert problems[1][0] == "mailboxes[0].aliases[1]" and "not one of the official domains" in problems[1][1]
    assert found(policy.official_domain, desired(person("annv@Quangngai.gov.vn"))) == []


@pytest.mark.parametrize("target", ["an@gmail.com", "an@GMAIL.com", "an@mail.yahoo.com", "an@yahoo.com.vn"])
def test_no_forwarding_to_public_providers(target):
    (problem,) = found(policy.no_public_forwarding, desired(person("annv@quangngai.gov.vn", forward_to=(target,))))
    assert problem[0] == "mailboxes[0].forward_to[0]"
    assert "public mail provider" in problem[1]


def test_no_forwarding_outside_official_domains():
    state = desired(person("annv@quangngai.gov.vn", forward_to=("an@example.vn",)))
    (problem,) = found(policy.no_public_forwarding, state)
    assert "outside the official domains (example.vn)" in problem[1]


def test_addresses_unique_case_insensitively_across_files():
    first = desired(person("annv@quangngai.gov.vn"))
    second = desired(person("ANNV@quangngai.gov.vn", "QN-2"), file="mailboxes/so-noi-vu.yaml", unit_id="so-noi-vu")
    state = Desired(first.units + second.units)
    (problem,) = [p for p in policy.unique_addresses(state, CTX)]
    assert problem.file == "mailboxes/so-noi-vu.yaml"
    assert problem.subject == "ANNV@quangngai.gov.vn"
    assert "already declared at mailboxes/so-tttt.yaml mailboxes[0].address" in problem.text
    assert problem.ref == ("mailboxes/so-tttt.yaml", ("mailboxes", 0, "address"))


def test_alias_never_equals_a_mailbox_address_or_another_alias():
    state = desired(
        person("annv@quangngai.gov.vn", aliases=("an@quangngai.gov.vn",)),
        person("binhtt@quangngai.gov.vn", "QN-2", aliases=("Annv@quangngai.gov.vn", "an@quangngai.gov.vn")),
    )
    problems = found(policy.unique_addresses, state)
    assert problems[0][0] == "mailboxes[1].aliases[0]" and "is the address of the mailbox" in problems[0][1]
    assert problems[1][0] == "mailboxes[1].aliases[1]" and "already used at" in problems[1][1]


def test_unit_id_matches_file_and_is_unique():
    state = Desired(desired(person("a@quangngai.gov.vn"), file="mailboxes/so-tttt.yaml").units
                    + desired(person("b@quangngai.gov.vn", "QN-2"), file="mailboxes/other.yaml").units)
    problems = [p.message for p in policy.unit_ids(state, CTX)]
    assert len(problems) == 2
    assert "must equal the file name 'other'" in problems[0]
    assert "already used by mailboxes/so-tttt.yaml" in problems[1]


def test_one_active_personal_mailbox_per_person():
    state = desired(person("annv@quangngai.gov.vn"), person("annv2@quangngai.gov.vn"))
    (problem,) = found(policy.one_person_per_mailbox, state)
    assert problem[0] == "mailboxes[1].owner.id"
    assert "already has an active personal mailbox annv@quangngai.gov.vn" in problem[1]


def test_disabled_old_address_beside_new_one_is_fine():
    state = desired(person("annv@quangngai.gov.vn", status=Status.DISABLED), person("annv2@quangngai.gov.vn"),
                    person("annv3@quangngai.gov.vn", status=Status.REMOVED))
    assert found(policy.one_person_per_mailbox, state) == []


def test_functional_mailbox_owner_holds_an_active_personal_mailbox():
    state = desired(person("vanthu@quangngai.gov.vn", "QN-9", kind=Kind.FUNCTIONAL),
                    person("annv@quangngai.gov.vn", "QN-9", status=Status.DISABLED))
    (problem,) = found(policy.one_person_per_mailbox, state)
    assert problem[0] == "mailboxes[0].owner.id"
    assert "must hold an active personal mailbox" in problem[1]


def test_active_mailbox_past_expiry_is_a_warning_not_an_error():
    state = desired(person("a@quangngai.gov.vn", expires=date(2026, 11, 27)),
                    person("b@quangngai.gov.vn", "QN-2", expires=date(2026, 11, 28)),
                    person("c@quangngai.gov.vn", "QN-3", expires=date(2020, 1, 1), status=Status.DISABLED))
    (problem,) = policy.not_expired(state, CTX)
    assert (problem.field, problem.severity, problem.subject) == ("mailboxes[0].expires", "warning",
                                                                  "a@quangngai.gov.vn")
    assert problem.message == ("expired on 27/11/2026 but declared active: the next apply disables it; set status: "
                               "disabled, or extend expires with a ticket")


def test_every_check_is_registered():
    names = {c.__name__ for c in policy.CHECKS}
    assert names == {"unit_ids", "address_format", "official_domain", "unique_addresses",
                     "one_person_per_mailbox", "no_public_forwarding", "not_expired", "legacy_only_retired",
                     "forward_targets", "owner_names", "functional_owner_unit"}


def test_every_address_at_a_shared_domain_is_reported():
    """The domain checks remember each domain's verdict; every address is still judged and reported."""
    state = desired(person("annv@gmail.com", aliases=("an@gmail.com", "an@quangngai.gov.vn")),
                    person("binhtt@mail.yahoo.com", "QN-2", forward_to=("b@gmail.com",)),
                    person("cuongnv@quangngai.gov.vn", "QN-3", forward_to=("c@GMAIL.com",)))
    assert [f for f, _ in found(policy.official_domain, state)] == [
        "mailboxes[0].address", "mailboxes[0].aliases[0]", "mailboxes[1].address"]
    assert [f for f, _ in found(policy.no_public_forwarding, state)] == [
        "mailboxes[1].forward_to[0]", "mailboxes[2].forward_to[0]"]


def test_local_part_unique_across_domains():
    ctx = policy.PolicyContext(("quangngai.gov.vn", "qn.gov.vn"), CTX.public_mail_domains, CTX.today)
    state = desired(person("annv@quangngai.gov.vn"), person("annv@qn.gov.vn", "QN-2"))
    (problem,) = [p for p in policy.unique_addresses(state, ctx)]
    assert problem.field == "mailboxes[1].address"
    assert "local part 'annv' is already used by annv@quangngai.gov.vn" in problem.message


# --- Forwards reach someone; owners are one person with one name --------------------------------------------


@pytest.mark.parametrize(("target", "expected"), [
    ("annv@quangngai.gov.vn", "a mailbox cannot forward to itself"),
    ("an@quangngai.gov.vn", "a mailbox cannot forward to itself"),
    ("nobody@quangngai.gov.vn", "forwarding to nobody@quangngai.gov.vn, which no unit file declares"),
    ("binhtt@quangngai.gov.vn", "forwarding to binhtt@quangngai.gov.vn, which is disabled ({where})"),
    ("cuonglm@quangngai.gov.vn", "forwarding to cuonglm@quangngai.gov.vn, which is removed ({where})"),
])
def test_a_forward_must_reach_an_active_declared_mailbox_other_than_itself(target, expected):
    state = desired(person("annv@quangngai.gov.vn", aliases=("an@quangngai.gov.vn",), forward_to=(target,)),
                    person("binhtt@quangngai.gov.vn", "QN-2", status=Status.DISABLED),
                    person("cuonglm@quangngai.gov.vn", "QN-3", status=Status.REMOVED),
                    person("dungdn@quangngai.gov.vn", "QN-4", aliases=("dung@quangngai.gov.vn",)))
    (problem,) = policy.forward_targets(state, CTX)
    assert (problem.field, problem.subject, problem.rule) == ("mailboxes[0].forward_to[0]", "annv@quangngai.gov.vn",
                                                              "forward-target")
    assert problem.message.startswith(expected)
    if "{where}" in expected:
        index = {"binhtt@quangngai.gov.vn": 1, "cuonglm@quangngai.gov.vn": 2}[target]
        assert problem.ref == ("mailboxes/so-tttt.yaml", ("mailboxes", index, "status"))
    for good in ("dungdn@quangngai.gov.vn", "dung@quangngai.gov.vn"):
        ok = desired(person("annv@quangngai.gov.vn", forward_to=(good,)),
                     person("dungdn@quangngai.gov.vn", "QN-4", aliases=("dung@quangngai.gov.vn",)))
        assert list(policy.forward_targets(ok, CTX)) == []


def test_an_owner_name_that_differs_from_their_personal_mailbox_is_flagged():
    state = desired(person("annv@quangngai.gov.vn", "QN-1", name="Nguyễn Văn An"),
                    replace(person("vanthu@quangngai.gov.vn", "QN-1", kind=Kind.FUNCTIONAL, name="Văn thư"),
                            owner=Owner("QN-1", "Nguyễn Văn Ân")))
    (problem,) = policy.owner_names(state, CTX)
    assert (problem.field, problem.subject) == ("mailboxes[1].owner.name", "vanthu@quangngai.gov.vn")
    assert problem.text == ("owner QN-1 is 'Nguyễn Văn Ân' here but 'Nguyễn Văn An' on their personal mailbox "
                            "annv@quangngai.gov.vn (mailboxes/so-tttt.yaml mailboxes[0].owner.name)")
    same = desired(person("annv@quangngai.gov.vn", "QN-1"),
                   replace(person("vanthu@quangngai.gov.vn", "QN-1", kind=Kind.FUNCTIONAL, name="Văn thư"),
                           owner=Owner("QN-1", "Nguyễn  Văn An")))
    assert list(policy.owner_names(same, CTX)) == []


def test_a_functional_mailbox_whose_owner_moved_to_another_unit_is_a_warning():
    moved = replace(person("annv@quangngai.gov.vn", "QN-1"), unit="so-noi-vu")
    state = desired(moved, person("vanthu@quangngai.gov.vn", "QN-1", kind=Kind.FUNCTIONAL))
    (problem,) = policy.functional_owner_unit(state, CTX)
    assert (problem.severity, problem.subject, problem.field) == ("warning", "vanthu@quangngai.gov.vn",
                                                                  "mailboxes[1].owner.id")
    assert "now belongs to so-noi-vu (annv@quangngai.gov.vn" in problem.message
    assert list(policy.functional_owner_unit(desired(person("annv@quangngai.gov.vn", "QN-1"),
                                                     person("vanthu@quangngai.gov.vn", "QN-1",
                                                            kind=Kind.FUNCTIONAL)), CTX)) == []
