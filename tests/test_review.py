"""`reconciler review` end to end on a real slapd (olcLastBind writes pwdLastSuccess on every real bind).

The directory holds a mailbox logged in a moment ago (a real bind), one whose last login is 200 days
old, one never used since it was created 200 days ago, an expired and an expiring one, owners missing
from the staff roster (a personal mailbox and the functional one they are custodian of), an owner who
left, a mailbox disabled for longer than the grace period and an unmanaged account forwarding to Gmail;
the mail log has a Facebook sign-up. No client operation can write an old pwdLastSuccess (ppolicy:
"no-user-modification attribute not manageable"), so that one entry is loaded with slapadd, as a
restored backup would be (Slapd.offline_add); createTimestamp is backdated with the Relax Rules control,
which slapd allows to the rootdn. The fresh login is made "old" the honest way: --as-of in the future.

The mail log is not produced by a real Postfix (a delivery on loopback needs a running Postfix with
its queue, which the test machine does not have): its lines follow the format Postfix writes and
documents (qmgr ``QID: from=<…>, size=…, nrcpt=… (queue active)``; the delivery agent's ``QID: to=<…>,
orig_to=<…>, relay=…, delay=…, delays=…, dsn=…, status=sent (…)``; ``QID: removed``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.slapd import Slapd

from reconciler.directory.profiles import openldap as profile
from reconciler.model import Kind, Mailbox, Owner, Status

VN = ZoneInfo("Asia/Ho_Chi_Minh")
DOMAIN = "quangngai.gov.vn"
PASSWORD = "Mat-khau-that-1"
TODAY = datetime.now(VN).date()


def ymd(value: date) -> str:
    return value.isoformat()


def mailbox(local: str, owner: str, *, kind: str = "personal", status: str = "active", expires: date | None = None,
            aliases: tuple[str, ...] = (), name: str = "Nguyễn Văn An", owner_name: str | None = None) -> dict:
    return {"local": local, "owner": owner, "kind": kind, "status": status, "expires": expires,
            "aliases": aliases, "name": name, "owner_name": owner_name or name}


MAILBOXES = [
    mailbox("annv", "QN-1", aliases=(f"an.nguyen@{DOMAIN}",)),      # recent login; Facebook sign-up
    mailbox("binhtt", "QN-2", name="Trần Thị Bình"),                 # last login 200 days ago
    mailbox("chaunt", "QN-3", name="Nguyễn Thị Châu"),               # created 200 days ago, never used
    mailbox("dungpv", "QN-4", expires=TODAY - timedelta(days=10), name="Phạm Văn Dũng"),
    mailbox("emlt", "QN-6", expires=TODAY + timedelta(days=10), name="Lê Thị Em"),
    mailbox("giangnv", "QN-9", name="Nguyễn Văn Giang"),             # owner not on the roster
    mailbox("vanthu.stttt", "QN-9", kind="functional", name="Văn thư Sở",  # custodian not on the roster
            owner_name="Nguyễn Văn Giang"),
    mailbox("hanhpt", "QN-5", name="Phan Thị Hạnh"),                 # owner left
    mailbox("khanhlv", "QN-7", status="disabled", name="Lê Văn Khánh"),  # disabled 60 days ago
]
AUTO_DISABLED = {"binhtt", "chaunt", "dungpv", "hanhpt"}


def unit_yaml() -> str:
    lines = ["# yaml-language-server: $schema=../schemas/unit.schema.json", "unit:", "  id: so-tttt",
             "  name: Sở Thông tin và Truyền thông", "mailboxes:"]
    for m in MAILBOXES:
        lines += [f"  - address: {m['local']}@{DOMAIN}   # {m['name']}", f"    name: {m['name']}",
                  f"    kind: {m['kind']}", f"    owner: {{id: {m['owner']}, name: {m['owner_name']}}}",
                  f"    status: {m['status']}  # as requested"]
        if m["aliases"]:
            lines.append(f"    aliases: [{', '.join(m['aliases'])}]")
        if m["expires"]:
            lines.append(f"    expires: {ymd(m['expires'])}")
        lines.append("    ticket: 12/QĐ-STTTT")
    return "\n".join(lines) + "\n"


def entry_ldif(m: dict, extra: list[str] = ()) -> str:
    model = Mailbox(f"{m['local']}@{DOMAIN}", m["name"], Kind(m["kind"]), Owner(m["owner"], m["name"]),
                    Status(m["status"]), "so-tttt", m["aliases"])
    add = profile.entry_for(model, "ou=mailboxes,dc=quangngai,dc=gov,dc=vn", now=datetime.now(UTC))
    lines = [f"dn: {add.dn}", *(f"{k}: {v}" for k, vs in add.attrs.items() for v in vs), f"userPassword: {PASSWORD}",
             *extra]
    return "\n".join(lines) + "\n"


def gtime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def relax_modify(slapd: Slapd, ldif: str) -> None:
    subprocess.run(["ldapmodify", "-x", "-H", slapd.url, "-D", slapd.admin_dn, "-y", str(slapd.password_file),
                    "-e", "relax"], input=ldif, text=True, check=True, capture_output=True)


ROSTER = """\ufeffmã,họ tên,đơn vị,ngày nghỉ
QN-1,Nguyễn Văn An,so-tttt,
QN-2,Trần Thị Bình,Sở Thông tin và Truyền thông,
QN-3,Nguyễn Thị Châu,so-tttt,
QN-4,Phạm Văn Dũng,so-tttt,
QN-5,Phan Thị Hạnh,so-tttt,{left}
QN-6,Lê Thị Em,so-tttt,
QN-7,Lê Văn Khánh,so-tttt,
"""


def maillog_text() -> str:
    day = TODAY - timedelta(days=3)
    stamp = f"{day:%b} {day.day:2d}"
    return "\n".join([
        # A Facebook sign-up confirmation to an alias, delivered through Dovecot's LMTP.
        f"{stamp} 09:14:02 mail postfix/qmgr[812]: 4F1C22A0B3: from=<registration@facebookmail.com>, size=10342, "
        "nrcpt=1 (queue active)",
        f"{stamp} 09:14:02 mail postfix/lmtp[1904]: 4F1C22A0B3: to=<annv@{DOMAIN}>, orig_to=<an.nguyen@{DOMAIN}>, "
        "relay=mail.quangngai.gov.vn[private/dovecot-lmtp], delay=0.21, delays=0.1/0.01/0.03/0.07, dsn=2.0.0, "
        f"status=sent (250 2.0.0 <annv@{DOMAIN}> 3dXsBn4fK2aUBwAA Saved)",
        f"{stamp} 09:14:02 mail postfix/qmgr[812]: 4F1C22A0B3: removed",
        # The same queue id reused for ordinary mail: not a sign-up.
        f"{stamp} 10:02:40 mail postfix/qmgr[812]: 4F1C22A0B3: from=<vanthu.stttt@{DOMAIN}>, size=2210, nrcpt=1 "
        "(queue active)",
        f"{stamp} 10:02:40 mail postfix/virtual[1911]: 4F1C22A0B3: to=<binhtt@{DOMAIN}>, relay=virtual, delay=0.02, "
        "delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to maildir)",
        # A deferred Facebook message never reached the mailbox: no evidence.
        f"{stamp} 11:30:00 mail postfix/qmgr[812]: 7A0B11C2D4: from=<notification@facebookmail.com>, size=9000, "
        "nrcpt=1 (queue active)",
        f"{stamp} 11:30:05 mail postfix/lmtp[1904]: 7A0B11C2D4: to=<chaunt@{DOMAIN}>, relay=none, delay=5, "
        "delays=0.1/0/5/0, dsn=4.4.1, status=deferred (connect to private/dovecot-lmtp: Connection refused)",
    ]) + "\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """The repository, the real slapd with its history, the roster and the mail log (built once)."""
    from conftest import Repo
    from support.slapd import start_slapd

    slapd = start_slapd(tmp_path_factory.mktemp("review") / "slapd")
    root = tmp_path_factory.mktemp("review-repo") / "repo"
    repo = Repo(root)
    repo.config.write_text(repo.config.read_text(encoding="utf-8").replace("url: ldif:var/directory.ldif",
                                                                           f"url: {slapd.url}"), encoding="utf-8")
    repo.write("so-tttt.yaml", unit_yaml())
    repo.commit("Sở TT&TT: hộp thư")
    now = datetime.now(UTC)
    by_local = {m["local"]: m for m in MAILBOXES}
    # History no client can write: a login 200 days ago (slapadd bypasses no-user-modification).
    slapd.offline_add(entry_ldif(by_local["binhtt"], [f"pwdLastSuccess: {gtime(now - timedelta(days=200))}",
                                                      f"createTimestamp: {gtime(now - timedelta(days=400))}"]))
    for m in MAILBOXES:
        if m["local"] != "binhtt":
            slapd.ldapadd(entry_ldif(m))
    slapd.ldapadd("\n".join([
        "dn: uid=olduser,ou=mailboxes,dc=quangngai,dc=gov,dc=vn", "objectClass: inetOrgPerson",
        "objectClass: inetLocalMailRecipient", "uid: olduser", "cn: Tài khoản cũ", "sn: Tài", "ou: so-tttt",
        f"mail: olduser@{DOMAIN}", "mailRoutingAddress: olduser.qn@gmail.com"]) + "\n")
    relax_modify(slapd, f"dn: uid=chaunt,{slapd.mailbox_base}\nchangetype: modify\nreplace: createTimestamp\n"
                        f"createTimestamp: {gtime(now - timedelta(days=200))}\n")
    slapd.ldapmodify(f"dn: uid=khanhlv,{slapd.mailbox_base}\nchangetype: modify\nreplace: pwdEndTime\n"
                     f"pwdEndTime: {gtime(now - timedelta(days=60))}\n")
    assert slapd.can_bind(f"uid=annv,{slapd.mailbox_base}", PASSWORD)  # the recent login, for real
    roster = root.parent / "roster.csv"
    roster.write_text(ROSTER.format(left=f"{TODAY - timedelta(days=5):%d/%m/%Y}"), encoding="utf-8")
    log = root.parent / "mail.log.1.gz"
    with gzip.open(log, "wt", encoding="utf-8") as handle:
        handle.write(maillog_text())
    env = {"RECONCILER_BIND_DN": slapd.admin_dn, "RECONCILER_BIND_PASSWORD": slapd.admin_password}
    yield {"slapd": slapd, "repo": repo, "roster": roster, "log": log, "env": env}
    slapd.stop()


@pytest.fixture
def review(world, run_cli):
    def run(*args: str):
        options = ["--roster", str(world["roster"]), "--maillog", str(world["log"])]
        return run_cli("review", *options, *args, cwd=world["repo"].root, env=world["env"])

    return run


EXPECTED = {
    ("annv", "social_signup", "ask_unit"),
    ("binhtt", "idle", "disable"),
    ("chaunt", "never_used", "disable"),
    ("dungpv", "expired", "disable"),
    ("emlt", "expiring", "ask_unit"),
    ("giangnv", "owner_not_on_roster", "ask_unit"),
    ("vanthu.stttt", "owner_not_on_roster", "reassign_owner"),
    ("hanhpt", "owner_left", "disable"),
    ("khanhlv", "disabled_past_grace", "remove"),
    ("olduser", "public_forward", "remove_forward"),
}


def triples(findings: list[dict]) -> set[tuple[str, str, str]]:
    return {(f["address"].partition("@")[0], f["finding"], f["proposal"]) for f in findings}


def test_json_reports_each_finding_with_its_evidence(review):
    result = review("--format", "json")
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert (data["format_version"], data["as_of"]) == (1, TODAY.isoformat())
    assert triples(data["findings"]) == EXPECTED
    found = {(f["address"].partition("@")[0], f["finding"]): f for f in data["findings"]}
    assert found["binhtt", "idle"]["evidence"]["days_since_login"] in (199, 200, 201)
    assert found["binhtt", "idle"]["unit"] == "so-tttt"
    assert found["chaunt", "never_used"]["evidence"]["last_login"] is None
    assert found["hanhpt", "owner_left"]["evidence"]["roster_row"].endswith("roster.csv:6")
    signup = found["annv", "social_signup"]["evidence"]
    assert (signup["messages"], signup["senders"]) == (1, ["registration@facebookmail.com"])
    assert "orig_to=<an.nguyen@quangngai.gov.vn>" in signup["log_lines"][0]
    assert found["olduser", "public_forward"]["evidence"]["public_addresses"] == ["olduser.qn@gmail.com"]


@pytest.mark.parametrize("fmt", ["text", "markdown", "csv"])
def test_every_format_names_every_finding(review, fmt):
    result = review("--format", fmt)
    assert result.exit_code == 2, result.output
    if fmt == "csv":
        assert result.stdout.startswith("\ufeffunit,address,name,finding,")  # the BOM: Excel reads UTF-8
        rows = list(csv.DictReader(io.StringIO(result.stdout.removeprefix("\ufeff"))))
        assert triples(rows) == EXPECTED
        assert all(json.loads(r["evidence"]) for r in rows)
        return
    lines = result.stdout.splitlines()
    for local, finding, proposal in EXPECTED:
        address = f"{local}@{DOMAIN}"
        if fmt == "text":
            assert any(line.startswith(f"[{finding}] {address} (") and line.endswith(proposal) for line in lines), local
        else:
            assert any(line.startswith(f"| `{address}` |") and f"| {proposal} |" in line for line in lines), local
    if fmt == "markdown":
        assert "## Disabled in this proposal (4)" in result.stdout
        assert "## Needs a person to decide (6)" in result.stdout


def test_as_of_moves_the_idle_boundary(review):
    """The fresh login (today) is not idle 90 days on, and is the day after."""
    def idle(as_of: date) -> set[str]:
        result = review("--format", "json", "--as-of", as_of.isoformat())
        assert result.exit_code == 2, result.output
        return {f["address"].partition("@")[0] for f in json.loads(result.stdout)["findings"] if f["finding"] == "idle"}

    assert idle(TODAY) == {"binhtt"}
    assert idle(TODAY + timedelta(days=90)) == {"binhtt"}
    assert idle(TODAY + timedelta(days=91)) == {"binhtt", "annv"}
    # binhtt's login was 200 days ago: with a longer limit it is no longer idle
    result = review("--format", "json", "--idle-days", "365")
    assert "idle" not in {f["finding"] for f in json.loads(result.stdout)["findings"]}


def test_before_the_history_only_the_live_forward_remains(world, run_cli):
    result = run_cli("review", "--as-of", (TODAY - timedelta(days=400)).isoformat(), "--format", "json",
                     cwd=world["repo"].root, env=world["env"])
    # Before any of the history: nothing idle, nothing expired yet; only the live forward to Gmail remains.
    assert result.exit_code == 2
    assert triples(json.loads(result.stdout)["findings"]) == {("olduser", "public_forward", "remove_forward")}


def test_propose_makes_a_branch_that_validates_and_disables_exactly_the_right_mailboxes(world, review, run_cli):
    repo = world["repo"]
    head = repo.git.head.commit.hexsha
    branch = f"review/{TODAY.isoformat()}"
    result = review("--format", "markdown", "--propose", branch)
    assert result.exit_code == 2, result.output
    assert repo.git.active_branch.name == "main" and repo.git.head.commit.hexsha == head  # untouched
    assert not repo.git.is_dirty(untracked_files=True)
    proposal = repo.git.commit(branch)
    assert proposal.parents[0].hexsha == head
    record = f"reviews/{TODAY.isoformat()}.md"
    assert sorted(proposal.stats.files) == ["mailboxes/so-tttt.yaml", record]
    assert (proposal.tree / record).data_stream.read().decode() == result.stdout  # the PR body is the record
    message = proposal.message
    for local, finding, _proposal in EXPECTED:
        assert f"- {local}@{DOMAIN} (so-tttt): {finding}: " in message, local
    diff = repo.git.git.diff(head, branch, "--", "mailboxes/so-tttt.yaml", unified=0)
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert removed == ["-    status: active  # as requested"] * 4  # comments kept, nothing else touched
    assert added.count("+    status: disabled  # as requested") == 4
    assert len(added) == 8 and all(line.startswith("+    review: {date: ") for line in added if "review" in line)

    worktree = world["repo"].root.parent / "proposal"
    repo.git.git.worktree("add", str(worktree), branch)
    try:
        validated = run_cli("validate", "--format", "json", cwd=worktree)
        assert validated.exit_code == 0, validated.output
        from reconciler.declarations.desired import parse_unit
        unit, _doc, problems = parse_unit((worktree / "mailboxes/so-tttt.yaml").read_text(encoding="utf-8"), "f")
        assert not problems and unit is not None
        disabled = {m.address.partition("@")[0] for m in unit.mailboxes if m.status is Status.DISABLED}
        assert disabled == AUTO_DISABLED | {"khanhlv"}
        reported = run_cli("report", "--format", "json", cwd=worktree)
        assert json.loads(reported.stdout)["last_review"] == {"date": TODAY.isoformat(), "file": record}
    finally:
        repo.git.git.worktree("remove", "--force", str(worktree))

    again = review("--propose", branch)
    assert again.exit_code == 1 and "already exists" in again.output
    current = review("--propose", "main")
    assert current.exit_code == 1 and "already exists" in current.output
    assert [h.name for h in repo.git.heads if h.name.startswith("review/")] == [branch]


def test_report_without_review_says_so(world, run_cli):
    result = run_cli("report", cwd=world["repo"].root)
    assert "Last review (rà soát): none recorded" in result.stdout


def test_bad_roster_row_is_one_located_line(world, run_cli, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,unit,left_on\nQN-1,An,so-tttt,\nQN-2,Bình,so-tttt,31/13/2026\n", encoding="utf-8")
    result = run_cli("review", "--roster", str(roster), cwd=world["repo"].root, env=world["env"])
    assert result.exit_code == 1
    assert result.output.strip() == (f"{roster}:3: left_on: '31/13/2026' is not a date; write YYYY-MM-DD or "
                                     "dd/mm/yyyy")


def test_a_real_imap_login_through_the_reference_dovecot_sets_the_last_login(slapd, tmp_path):
    """Dovecot authenticates by binding as the user (auth_bind in contrib/): olcLastBind records it."""
    from support.mailserver import imap_login, start_dovecot

    from reconciler import settings as settings_file
    from reconciler.directory.ldapserver import LdapDirectory
    from reconciler.review import run as reviewing

    slapd.ldapadd(entry_ldif(mailbox("emlt", "QN-6", name="Lê Thị Em")))
    dovecot = start_dovecot(tmp_path / "dovecot", slapd)
    try:
        before = datetime.now(UTC).replace(microsecond=0)
        assert imap_login(dovecot, f"emlt@{DOMAIN}", PASSWORD)
    finally:
        dovecot.stop()
    settings = settings_file.from_data({"domains": [DOMAIN], "directory": {
        "url": slapd.url, "base_dn": slapd.mailbox_base}}, tmp_path, "reconciler.yaml")
    settings = settings_file.with_environment(settings, {"RECONCILER_BIND_DN": slapd.admin_dn,
                                                         "RECONCILER_BIND_PASSWORD": slapd.admin_password})
    accounts = []
    for fast_read in (True, False):  # python-ldap and ldap3 read the operational attributes alike
        directory = LdapDirectory(settings.directory, fast_read=fast_read)
        try:
            accounts.append(reviewing.read_live(directory, "openldap")[f"emlt@{DOMAIN}"])
        finally:
            directory.close()
    account = accounts[0]
    assert account.last_login is not None and before <= account.last_login <= datetime.now(UTC)
    assert account.created is not None and account.created <= account.last_login
    assert (accounts[1].last_login, accounts[1].created) == (account.last_login, account.created)


def test_contrib_lastbind_ldif_turns_last_login_on_in_slapd_config(slapd, tmp_path):
    """contrib/slapd/lastbind.ldif, applied with slapmodify to this fixture's cn=config without olcLastBind,
    sets it (test_slapd_fixture.py proves that olcLastBind: TRUE records pwdLastSuccess on a bind)."""
    contrib = Path(__file__).resolve().parent.parent / "contrib" / "slapd" / "lastbind.ldif"
    config = (slapd.workdir / "config.ldif").read_text(encoding="utf-8")
    assert "olcLastBind: TRUE\n" in config
    (tmp_path / "config.ldif").write_text(config.replace("olcLastBind: TRUE\n", ""), encoding="utf-8")
    for sub in ("slapd.d", "data"):
        (tmp_path / sub).mkdir()

    def tool(*argv: str) -> str:
        return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    def database() -> str:
        return tool("slapcat", "-n0", "-F", "slapd.d", "-o", "ldif_wrap=no", "-a", "(olcDatabase={1}mdb)")

    tool("slapadd", "-n0", "-F", "slapd.d", "-l", "config.ldif")
    assert "olcLastBind" not in database()
    tool("slapmodify", "-n0", "-F", "slapd.d", "-l", str(contrib))
    assert "\nolcLastBind: TRUE\n" in database()
    slapd_binary = Path(shutil.which("slapd", path="/usr/sbin:/usr/bin") or "/usr/sbin/slapd").read_bytes()
    assert b"lastbind-precision" not in slapd_binary.lower()  # 2.5.13: see the comment in the LDIF


def test_review_in_vietnamese_names_the_unit_in_full(review):
    """--lang vi: the headings, the counts and the findings are Vietnamese; each finding names its unit by its
    full name (with the id), as plan and report do (issue #12, items 1 and 4)."""
    result = review("--lang", "vi")
    assert result.exit_code == 2, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Rà soát tính đến ngày ")
    assert lines[1].startswith("Căn cứ: thư mục ")
    assert lines[2].startswith("10 phát hiện: ")
    idle = next(line for line in lines if line.startswith(f"[không hoạt động] binhtt@{DOMAIN} ("))
    assert "Sở Thông tin và Truyền thông (so-tttt)): đăng nhập lần cuối " in idle
    assert idle.endswith("-> vô hiệu hoá")
    markdown = review("--lang", "vi", "--format", "markdown").stdout
    assert "## Vô hiệu hoá trong đề xuất này (4)" in markdown
    assert "| Địa chỉ | Họ tên | Đơn vị | Phát hiện | Đề xuất | Căn cứ |" in markdown
    assert f"| `binhtt@{DOMAIN}` | " in markdown and " | Sở Thông tin và Truyền thông (so-tttt) | " in markdown
    english = review("--format", "markdown").stdout
    assert " | Sở Thông tin và Truyền thông (so-tttt) | idle | disable | last login " in english
