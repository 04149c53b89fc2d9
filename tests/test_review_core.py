"""The review's pure parts: finding rules and their boundaries, the roster and mail-log readers, the
minimal YAML edit of --propose; and the exit code 0 of a review with nothing to report."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from reconciler.declarations.desired import parse_unit
from reconciler.model import Account, Desired, Kind, Mailbox, Owner, SourceRef, Status, Unit
from reconciler.problems import InputError, ReconcilerError
from reconciler.review import findings as rules
from reconciler.review import maillog, roster
from reconciler.review.findings import Criteria, FindingKind, Proposal
from reconciler.review.propose import disable_in_text

VN = ZoneInfo("Asia/Ho_Chi_Minh")
AS_OF = date(2026, 12, 1)
D = "quangngai.gov.vn"


def box(local: str, *, owner: str = "QN-1", kind: Kind = Kind.PERSONAL, status: Status = Status.ACTIVE,
        expires: date | None = None, aliases: tuple[str, ...] = (), unit: str = "so-tttt") -> Mailbox:
    return Mailbox(f"{local}@{D}", f"Người {local}", kind, Owner(owner, "Chủ"), status, unit, aliases,
                   expires=expires, source=SourceRef("mailboxes/so-tttt.yaml", 0))


def desired(*boxes: Mailbox) -> Desired:
    return Desired((Unit("so-tttt", "Sở Thông tin và Truyền thông", "mailboxes/so-tttt.yaml", boxes),))


def account(local: str, *, login: datetime | None = None, created: datetime | None = None,
            disabled: datetime | None = None, forward: tuple[str, ...] = (), aliases: tuple[str, ...] = ()) -> Account:
    return Account(f"{local}@{D}", {"unit": "so-tttt", "aliases": list(aliases), "forward_to": list(forward)},
                   disabled, login, f"uid={local}", f"Người {local}", created)


def criteria(**overrides) -> Criteria:
    return Criteria(**{"as_of": AS_OF, "tz": VN, "public_mail_domains": ("gmail.com", "yahoo.com"), **overrides})


def local_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=VN)


def kinds(found) -> list[tuple[str, str, str]]:
    return [(f.address.partition("@")[0], f.finding.value, f.proposal.value) for f in found]


# -- logins ------------------------------------------------------------------------------------------


def test_idle_starts_the_day_after_the_limit_in_local_time():
    limit = AS_OF - timedelta(days=90)
    live = {f"a@{D}": account("a", login=local_noon(limit)),                        # exactly 90 days: not yet
            f"b@{D}": account("b", login=local_noon(limit - timedelta(days=1))),  # 91 days: idle
            # 23:30 in Vietnam on the 90th day is still that day (16:30 UTC), not the day before
            f"c@{D}": account("c", login=datetime(limit.year, limit.month, limit.day, 16, 30, tzinfo=UTC))}
    found = rules.login_findings({k: box(k.partition("@")[0]) for k in live}, live, criteria())
    assert kinds(found) == [("b", "idle", "disable")]
    assert found[0].evidence == {"last_login": local_noon(limit - timedelta(days=1)).isoformat(),
                                 "days_since_login": 91, "idle_days": 90}
    assert kinds(rules.login_findings({k: box(k.partition("@")[0]) for k in live}, live,
                                      criteria(as_of=AS_OF + timedelta(days=1)))) == \
        [("a", "idle", "disable"), ("b", "idle", "disable"), ("c", "idle", "disable")]


def test_never_used_needs_a_creation_date_and_no_login():
    old = local_noon(AS_OF - timedelta(days=91))
    live = {f"a@{D}": account("a", created=old),
            f"b@{D}": account("b", created=local_noon(AS_OF - timedelta(days=90))),
            f"c@{D}": account("c"),                                   # no createTimestamp: cannot tell
            f"d@{D}": account("d", created=old, login=local_noon(AS_OF))}
    found = rules.login_findings({k: box(k.partition("@")[0]) for k in live}, live, criteria())
    assert kinds(found) == [("a", "never_used", "disable")]


def test_logins_of_disabled_and_unmanaged_accounts():
    old = local_noon(AS_OF - timedelta(days=300))
    live = {f"a@{D}": account("a", login=old, disabled=old),         # already disabled
            f"b@{D}": account("b", login=old),                        # declared disabled: the plan does it
            f"c@{D}": account("c", login=old)}                        # no file declares it
    found = rules.login_findings({f"b@{D}": box("b", status=Status.DISABLED)}, live, criteria())
    assert kinds(found) == [("c", "idle", "adopt")]
    assert not found[0].auto


# -- expiry, grace ---------------------------------------------------------------------------------


def test_expired_and_expiring_boundaries():
    boxes = [box("a", expires=AS_OF - timedelta(days=1)), box("b", expires=AS_OF),
             box("c", expires=AS_OF + timedelta(days=30)), box("d", expires=AS_OF + timedelta(days=31)),
             box("e", expires=AS_OF - timedelta(days=5), status=Status.DISABLED)]
    assert kinds(rules.expiry_findings(boxes, criteria())) == [
        ("a", "expired", "disable"), ("b", "expiring", "ask_unit"), ("c", "expiring", "ask_unit")]
    assert kinds(rules.expiry_findings(boxes, criteria(expiring_days=0))) == [
        ("a", "expired", "disable"), ("b", "expiring", "ask_unit")]


def test_disabled_past_the_grace_period_but_not_tombstoned():
    live = {f"a@{D}": account("a", disabled=local_noon(AS_OF - timedelta(days=31))),
            f"b@{D}": account("b", disabled=local_noon(AS_OF - timedelta(days=30))),
            f"c@{D}": account("c", disabled=local_noon(AS_OF - timedelta(days=90))),
            f"d@{D}": account("d")}  # declared disabled, still active live: the plan's business
    boxes = [box("a", status=Status.DISABLED), box("b", status=Status.DISABLED), box("c", status=Status.REMOVED),
             box("d", status=Status.DISABLED)]
    assert kinds(rules.grace_findings(boxes, live, criteria())) == [("a", "disabled_past_grace", "remove")]


# -- roster ----------------------------------------------------------------------------------------------


def test_roster_owners_missing_left_or_moved():
    staff = roster.parse("id,name,unit,left_on\nQN-1,An,so-tttt,\nQN-2,Bình,so-tttt,2026-12-01\n"
                         "QN-3,Châu,so-tttt,2026-12-02\nQN-4,Dũng,so-yte,\nQN-5,Em,Sở Thông tin và Truyền thông,\n",
                         "roster.csv")
    boxes = [box("a", owner="QN-1"), box("b", owner="QN-2"), box("c", owner="QN-3"), box("d", owner="QN-4"),
             box("e", owner="QN-5"), box("f", owner="QN-9"),
             box("vt", owner="QN-2", kind=Kind.FUNCTIONAL), box("vt2", owner="QN-9", kind=Kind.FUNCTIONAL),
             box("vt3", owner="QN-4", kind=Kind.FUNCTIONAL), box("g", owner="QN-9", status=Status.DISABLED)]
    found = rules.roster_findings(boxes, staff, criteria(), {"so-tttt": "Sở Thông tin và Truyền thông"})
    assert kinds(found) == [
        ("b", "owner_left", "disable"),                   # left on the review date
        ("d", "owner_moved_unit", "move_unit"),
        ("f", "owner_not_on_roster", "ask_unit"),
        ("vt", "owner_left", "reassign_owner"),           # a role mailbox is not disabled: it needs a custodian
        ("vt2", "owner_not_on_roster", "reassign_owner"),
        ("vt3", "owner_moved_unit", "reassign_owner"),
    ]
    assert found[0].evidence["roster_row"] == "roster.csv:3"


def test_roster_vietnamese_headers_bom_and_dates():
    text = ("\ufeffMã,Họ tên,Đơn vị,Ngày nghỉ\r\nQN-1,Nguyễn Văn An,so-tttt,31/10/2026\r\n"
            "qn-2,\"Trần, Bình\",so-yte,\r\n")
    staff = roster.parse(text, "nhansu.csv")
    assert staff.get("QN-1").left_on == date(2026, 10, 31)
    assert staff.get("QN-2").name == "Trần, Bình"   # ids match case-insensitively


@pytest.mark.parametrize(("text", "lines"), [
    ("id,name\nQN-1,An\n", ["r.csv:1: missing column(s) unit; the header must name id,name,unit[,left_on] "
                            "(or mã,họ tên,đơn vị,ngày nghỉ), found: id,name"]),
    ("id,name,unit,left_on\nQN-1,,so-tttt,\nQN-2,B,so-tttt,2026-02-30\nQN-3,C,x,,extra\nQN-3,C,x,\nQN-3,D,y,\n",
     ["r.csv:2: name: must not be empty",
      "r.csv:3: left_on: '2026-02-30' is not a date; write YYYY-MM-DD or dd/mm/yyyy",
      "r.csv:4: 5 cells where the header has 4",
      "r.csv:6: id: staff id QN-3 is also on r.csv:5"]),
    ("", ["r.csv: the roster is empty; expected a header row id,name,unit[,left_on]"]),
])
def test_bad_roster_rows_are_located_lines(text, lines):
    with pytest.raises(InputError) as err:
        roster.parse(text, "r.csv")
    assert [str(p) for p in err.value.problems] == lines


def test_roster_that_is_not_utf8(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"id,name,unit\nQN-1,\xd0\xe0o,so\n")  # Windows-1258 "Đào"
    with pytest.raises(InputError) as err:
        roster.load(path)
    assert str(err.value) == f"{path}:2: not UTF-8 text; save the roster as CSV UTF-8"


# -- mail log ---------------------------------------------------------------------------------------------

SENT = "relay=virtual, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to maildir)"
LOG = "\n".join([
    "Nov 30 23:59:01 mx postfix/qmgr[10]: AAA111: from=<Security@FacebookMail.com>, size=1, nrcpt=2 (queue active)",
    f"Nov 30 23:59:02 mx postfix/virtual[11]: AAA111: to=<a@quangngai.gov.vn>, {SENT}",
    "Nov 30 23:59:02 mx postfix/virtual[11]: AAA111: to=<b@quangngai.gov.vn>, relay=virtual, delay=0.1, "
    "delays=0/0/0/0.1, dsn=5.1.1, status=bounced (unknown user)",
    "Nov 30 23:59:03 mx postfix/qmgr[10]: AAA111: removed",
    "Dec  2 08:00:00 mx postfix/qmgr[10]: BBB222: from=<info@x.com>, size=1, nrcpt=1 (queue active)",
    "2026-11-15T10:00:00.123456+07:00 mx postfix/qmgr[10]: 4Lq7Rg1xYz: from=<no-reply@mail.instagram.com>, size=1, "
    "nrcpt=1 (queue active)",
    "2026-11-15T10:00:01.000001+07:00 mx postfix-in/lmtp[12]: 4Lq7Rg1xYz: to=<a@quangngai.gov.vn>, "
    "orig_to=<alias.a@quangngai.gov.vn>, relay=x[private/dovecot-lmtp], delay=1, delays=0/0/0/1, dsn=2.0.0, "
    "status=sent (250 2.0.0 Saved)",
    "Nov 29 07:00:00 mx postfix/smtpd[9]: CCC333: client=unknown[10.0.0.1]",
    f"Nov 29 07:00:01 mx postfix/virtual[11]: CCC333: to=<a@quangngai.gov.vn>, {SENT}",
]) + "\n"


def test_maillog_joins_sender_and_delivery_by_queue_id():
    found = list(maillog.deliveries(LOG.splitlines(True), "mail.log", as_of=AS_OF, tz=VN))
    assert [(d.sender, d.recipient, d.original_recipient, d.where) for d in found] == [
        ("security@facebookmail.com", f"a@{D}", None, "mail.log:2"),
        ("no-reply@mail.instagram.com", f"a@{D}", f"alias.a@{D}", "mail.log:7"),
    ]
    # "Nov 30" without a year: the latest year that is not after the review date
    assert found[0].when == datetime(2026, 11, 30, 23, 59, 2, tzinfo=VN)
    earlier = list(maillog.deliveries(LOG.splitlines(True), "m", as_of=date(2026, 11, 29), tz=VN))
    assert earlier[0].when.year == 2025


def test_maillog_gz_and_unreadable(tmp_path):
    path = tmp_path / "mail.log.2.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(LOG)
    assert len(maillog.read(path, as_of=AS_OF, tz=VN, keep_sender=lambda s: True)) == 2
    bad = tmp_path / "broken.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match=r"broken.gz: cannot read the mail log"):
        maillog.read(bad, as_of=AS_OF, tz=VN, keep_sender=lambda s: True)
    with pytest.raises(InputError, match="cannot read the mail log"):
        maillog.read(tmp_path / "missing.log", as_of=AS_OF, tz=VN, keep_sender=lambda s: True)


def test_signups_resolve_aliases_and_match_subdomains_only():
    found = list(maillog.deliveries(LOG.splitlines(True), "mail.log", as_of=AS_OF, tz=VN))
    spoof = maillog.Delivery("x@notfacebookmail.com", f"c@{D}", None, None, "m:1", "line")
    result = rules.signup_findings([*found, spoof], desired(box("a", aliases=(f"alias.a@{D}",)), box("c")), {},
                                   ("facebookmail.com", "instagram.com"), criteria())
    assert kinds(result) == [("a", "social_signup", "ask_unit")]
    assert result[0].evidence["messages"] == 2
    assert result[0].evidence["senders"] == ["no-reply@mail.instagram.com", "security@facebookmail.com"]
    assert result[0].evidence["log_lines"][0].startswith("mail.log:2: Nov 30 23:59:02 mx postfix/virtual")


def test_public_forwards_and_aliases():
    assert rules.public_targets([f"x@{D}", "x@Mail.Yahoo.com"], ["x@gmail.com"], ("gmail.com", "yahoo.com")) == \
        ["x@Mail.Yahoo.com", "x@gmail.com"]
    assert rules.public_targets(["x@notgmail.com"], [], ("gmail.com",)) == []
    live = {f"a@{D}": account("a", forward=("a.qn@gmail.com",)),
            f"b@{D}": account("b", forward=("b@gmail.com",), disabled=local_noon(AS_OF))}
    assert kinds(rules.forward_findings({f"a@{D}": box("a")}, live, criteria())) == [
        ("a", "public_forward", "remove_forward")]


def test_review_sorts_and_only_disables_are_auto():
    live = {f"a@{D}": account("a", login=local_noon(AS_OF - timedelta(days=200)), forward=("a@gmail.com",))}
    found = rules.review(desired(box("a", expires=AS_OF - timedelta(days=1))), live, criteria())
    assert [(f.finding, f.proposal, f.auto) for f in found] == [
        (FindingKind.IDLE, Proposal.DISABLE, True), (FindingKind.EXPIRED, Proposal.DISABLE, True),
        (FindingKind.PUBLIC_FORWARD, Proposal.REMOVE_FORWARD, False)]
    assert found[0].summary.startswith(f"a@{D} (Người a, so-tttt): last login 15/05/2026 12:00 +07:00, 200 days "
                                     "before 01/12/2026 (limit 90)")
    json.dumps([f.to_json() for f in found])


# -- the YAML edit ---------------------------------------------------------------------------------------

UNIT = """\
# yaml-language-server: $schema=../schemas/unit.schema.json
unit:
  id: so-tttt
  name: Sở TT&TT
mailboxes:
  # the first one
  - address: a@quangngai.gov.vn
    name: Nguyễn Văn A
    kind: personal
    owner: {id: QN-1, name: Nguyễn Văn A}
    status: active   # approved 2024
    ticket: "1/QĐ"
  - {address: b@quangngai.gov.vn, name: B, kind: personal, owner: {id: QN-2, name: B}, status: 'active'}
  - address: c@quangngai.gov.vn
    name: C
    kind: personal
    owner: {id: QN-3, name: C}
    review:
      date: 2025-01-01
      reason: an older review
    status: active"""


def test_disable_in_text_is_minimal_and_keeps_comments():
    edited = disable_in_text(UNIT, {0: 'idle: last login 01/03/2026 "long ago"', 1: "expired", 2: "never used"},
                             AS_OF, "f")
    assert edited.splitlines()[:14] == [
        *UNIT.splitlines()[:10],
        "    status: disabled   # approved 2024",
        '    review: {date: 2026-12-01, reason: "idle: last login 01/03/2026 \\"long ago\\""}',
        '    ticket: "1/QĐ"',
        "  - {address: b@quangngai.gov.vn, name: B, kind: personal, owner: {id: QN-2, name: B}, status: disabled, "
        "review: {date: 2026-12-01, reason: expired}}",
    ]
    assert edited.splitlines()[18:] == ["    review: {date: 2026-12-01, reason: never used}", "    status: disabled"]
    unit, _doc, problems = parse_unit(edited, "f")
    assert not problems and unit is not None
    assert [m.status for m in unit.mailboxes] == [Status.DISABLED] * 3
    assert disable_in_text(UNIT, {}, AS_OF) == UNIT


def test_disable_in_text_keeps_crlf_and_refuses_what_it_cannot_place():
    crlf = UNIT.replace("\n", "\r\n")
    edited = disable_in_text(crlf, {0: "idle"}, AS_OF)
    assert "    status: disabled   # approved 2024\r\n    review: {date: 2026-12-01, reason: idle}\r\n" in edited
    assert "\n" not in edited.replace("\r\n", "")
    with pytest.raises(ReconcilerError, match=r"^f: x@quangngai.gov.vn: mailboxes\[7\] is not where the review "):
        disable_in_text(UNIT, {7: "idle"}, AS_OF, "f", {7: "x@quangngai.gov.vn"})


@pytest.mark.parametrize("reason", ["idle: last login 01/03/2026", "see #12", '"quoted" at the start',
                                    "'single' at the start", "a, b {c} [d]", "- dash", "yes", "000123",
                                    "trailing space ", "back\\slash"])
def test_review_note_reasons_round_trip_through_the_one_yaml_writer(reason):
    """The `review: {date, reason}` note is written by yamlwriter: any reason reads back as written, on one line,
    and the edited file still validates."""
    edited = disable_in_text(UNIT, {0: reason, 1: reason}, AS_OF, "f")
    unit, _doc, problems = parse_unit(edited, "f")
    assert not problems and unit is not None
    data = yaml.safe_load(edited)
    assert data["mailboxes"][0]["review"] == {"date": AS_OF, "reason": reason}
    assert data["mailboxes"][1]["review"] == {"date": AS_OF, "reason": reason}
    assert len(edited.splitlines()) == len(UNIT.splitlines()) + 1


# -- exit code 0 -----------------------------------------------------------------------------------------


def test_review_without_findings_exits_zero(repo, run_cli):
    repo.write("so-tttt.yaml", """\
        unit: {id: so-tttt, name: Sở TT&TT}
        mailboxes:
          - {address: annv@quangngai.gov.vn, name: Nguyễn Văn An, kind: personal, owner: {id: QN-1, name: An},
             status: active}
        """)
    repo.commit()
    assert run_cli("apply", "--yes", cwd=repo.root).exit_code == 0
    result = run_cli("review", "--format", "json", cwd=repo.root)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["findings"] == []
    text = run_cli("review", "--propose", "review/x", cwd=repo.root)
    assert text.exit_code == 0 and "No findings: no branch review/x was made." in text.output
    assert "review/x" not in [h.name for h in repo.git.heads]
    bad = run_cli("review", "--as-of", "01/12/2026", cwd=repo.root)
    assert (bad.exit_code, bad.output.strip()) == (1, "error: --as-of: '01/12/2026' is not a date; write YYYY-MM-DD")


def test_markdown_cells_and_log_fences_cannot_be_broken_by_other_peoples_text():
    from reconciler.review import render
    from reconciler.review.findings import Finding
    from reconciler.review.run import Review

    finding = Finding(f"a@{D}", "so-tttt", FindingKind.SOCIAL_SIGNUP, Proposal.ASK_UNIT,
                      {"log_lines": ["m:1: from=<x@facebookmail.com> ````` fence"]}, "A | <!-- hidden",
                      "1 message(s) from <b>x</b>")
    text = render.markdown(Review(criteria(), [finding], "ldif:x"))
    row = next(line for line in text.splitlines() if line.startswith(f"| `a@{D}`"))
    assert row == (f"| `a@{D}` | A \\| &lt;\\!-- hidden | so-tttt | social network sign-up | ask_unit | "
                   "1 message\\(s\\) from &lt;b&gt;x&lt;/b&gt; |")
    assert "\n``````text\nm:1: from=<x@facebookmail.com> ````` fence\n``````" in text


def test_propose_refuses_uncommitted_unit_files_then_edits_a_flow_style_file(repo, run_cli):
    expires = (datetime.now(VN).date() + timedelta(days=10)).isoformat()
    as_of = (datetime.now(VN).date() + timedelta(days=20)).isoformat()
    repo.write("so-tttt.yaml", f"""\
        unit: {{id: so-tttt, name: Sở TT&TT}}
        mailboxes:
          - {{address: annv@quangngai.gov.vn, name: Nguyễn Văn An, kind: personal, owner: {{id: QN-1, name: An}},
             status: active, expires: {expires}}}  # hợp đồng
          - {{address: binhtt@quangngai.gov.vn, name: Trần Thị Bình, kind: personal, owner: {{id: QN-2, name: B}},
             status: active}}
        """)
    repo.commit()
    assert run_cli("apply", "--yes", cwd=repo.root).exit_code == 0
    (repo.root / "mailboxes" / "so-tttt.yaml").write_text(
        (repo.root / "mailboxes" / "so-tttt.yaml").read_text(encoding="utf-8") + "# draft\n", encoding="utf-8")
    dirty = run_cli("review", "--as-of", as_of, "--propose", "review/q1", cwd=repo.root)
    assert dirty.exit_code == 1
    assert "error: --propose: mailboxes/so-tttt.yaml has uncommitted changes" in dirty.output
    repo.git.git.checkout("--", "mailboxes/so-tttt.yaml")
    made = run_cli("review", "--as-of", as_of, "--propose", "review/q1", cwd=repo.root)
    assert made.exit_code == 2, made.output
    text = (repo.git.commit("review/q1").tree / "mailboxes/so-tttt.yaml").data_stream.read().decode()
    assert f"status: disabled, review: {{date: {as_of}, reason: \"expired: past its end date" in text
    assert "  # hợp đồng\n" in text and text.count("status: active") == 1


def test_signup_sender_domains_setting(tmp_path):
    from reconciler import settings as settings_file

    path = tmp_path / "reconciler.yaml"
    base = "domains: [quangngai.gov.vn]\ndirectory: {url: 'ldif:x.ldif', base_dn: 'ou=m,dc=x'}\n"
    path.write_text(base, encoding="utf-8")
    assert "facebookmail.com" in settings_file.load(path).review.signup_sender_domains
    path.write_text(base + "review:\n  signup_sender_domains: [Forum.Example.VN]\n", encoding="utf-8")
    assert settings_file.load(path).review.signup_sender_domains == ("forum.example.vn",)
    path.write_text(base + "review:\n  signup_domains: [x.com]\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown field 'signup_domains';.* allowed: signup_sender_domains"):
        settings_file.load(path)
