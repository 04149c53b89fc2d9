"""Lifecycle events that must act and read right: expiry, removals, renames, owners, NFC names, credentials.

Every scenario runs through the CLI against a real slapd, in a git repository as CI would see it.
"""

from __future__ import annotations

import json
import unicodedata

import pytest
from support.backends import Backend
from support.mailserver import postmap_query

from reconciler.textfmt import md

DOMAIN = "quangngai.gov.vn"
AN = f"annv@{DOMAIN}"
BINH = f"binhtt@{DOMAIN}"
VANTHU = f"vanthu.stttt@{DOMAIN}"


def mailbox(address: str, *, name: str = "Nguyễn Văn An", kind: str = "personal", owner: str | None = None,
            owner_name: str | None = None, status: str = "active", aliases: list[str] | None = None,
            forward_to: list[str] | None = None, expires: str | None = None) -> str:
    owner = owner or "QN-" + address.split("@")[0]
    lines = [f"  - address: {address}", f"    name: {name}", f"    kind: {kind}",
             f"    owner: {{id: {owner}, name: {owner_name or name}}}", f"    status: {status}"]
    if aliases:
        lines.append(f"    aliases: [{', '.join(aliases)}]")
    if forward_to:
        lines.append(f"    forward_to: [{', '.join(forward_to)}]")
    if expires:
        lines.append(f"    expires: {expires}")
    return "\n".join(lines) + "\n"


def unit(*entries: str, unit_id: str = "so-tttt") -> str:
    return f"unit:\n  id: {unit_id}\n  name: Sở Thông tin và Truyền thông\nmailboxes:\n" + "".join(entries)


@pytest.fixture
def world(repo, slapd, run_cli):
    backend = Backend("slapd", repo.root, slapd, {"RECONCILER_BIND_DN": slapd.admin_dn,
                                                  "RECONCILER_BIND_PASSWORD": slapd.admin_password})
    backend.configure(repo.config)

    class World:
        def __init__(self) -> None:
            self.repo, self.backend, self.slapd = repo, backend, slapd

        def cli(self, *args: str):
            return run_cli(*args, cwd=repo.root, env=backend.env)

        def merge(self, *entries: str, message: str = "Cập nhật", unit_id: str = "so-tttt") -> None:
            repo.write(f"{unit_id}.yaml", unit(*entries, unit_id=unit_id))
            repo.commit(message)

        def apply(self, *extra: str):
            result = self.cli("apply", "--yes", *extra)
            assert result.exit_code == 0, result.output
            return result

        def plan_json(self, *extra: str) -> dict:
            result = self.cli("plan", "--format", "json", *extra)
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout)

        def notes(self) -> list[dict]:
            listing = repo.git.git.notes("--ref", "reconciler", "list").splitlines()
            return [json.loads(line) for item in listing
                    for line in repo.git.git.cat_file("blob", item.split()[0]).splitlines() if line.strip()]

    return World()


# --- One clock ------------------------------------------------------------------------------------------------


def test_plan_and_validate_share_one_clock_in_the_timezone_setting(world):
    # 27/11 18:00 UTC is already 28/11 01:00 in Vietnam: the mailbox expired "yesterday" there.
    world.merge(mailbox(AN, expires="2026-11-27"))
    late_evening_utc = "2026-11-27T18:00:00+00:00"
    plan = world.plan_json("--now", late_evening_utc)
    assert [(c["action"], c.get("reason")) for c in plan["changes"]] == [("create", "expired on 27/11/2026")]
    assert plan["changes"][0]["after"]["status"] == "disabled"
    warned = world.cli("validate", "--today", "2026-11-28")
    assert warned.exit_code == 0 and "warning: annv@quangngai.gov.vn: mailboxes[0].expires" in warned.stdout
    # The same moment in a UTC-configured repository is still the 27th: nothing expired.
    world.repo.config.write_text(world.repo.config.read_text() + "timezone: UTC\n")
    plan = world.plan_json("--now", late_evening_utc)
    assert [(c["action"], c.get("reason")) for c in plan["changes"]] == [("create", None)]


def test_a_bad_timezone_is_a_located_settings_problem(world):
    world.repo.config.write_text(world.repo.config.read_text() + "timezone: Asia/Hanoi_City\n")
    result = world.cli("validate")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("reconciler.yaml:12:11: timezone: 'Asia/Hanoi_City' is not a known time zone")


# --- Expiry acts ----------------------------------------------------------------------------------------------


def test_expiry_is_a_warning_then_a_planned_disable_with_its_reason_in_every_format_and_the_record(world):
    world.merge(mailbox(AN, expires="2026-11-27"), mailbox(BINH, name="Trần Thị Bình"))
    world.apply("--now", "2026-11-01T09:00:00+07:00")
    assert "pwdendtime" not in world.backend.entry(AN)

    validated = world.cli("validate", "--today", "2026-11-28")
    assert validated.exit_code == 0, validated.output
    assert "1 files, 2 mailboxes: valid (1 warning)" in validated.stdout
    as_json = json.loads(world.cli("validate", "--today", "2026-11-28", "--format", "json").stdout)
    assert as_json["valid"] is True
    assert [(p["severity"], p["rule"], p["mailbox"]) for p in as_json["problems"]] == [
        ("warning", "not-expired", AN)]

    now = "2026-11-28T08:00:00+07:00"
    plan = world.plan_json("--now", now)
    assert [(c["action"], c["address"], c["reason"]) for c in plan["changes"]] == [
        ("disable", AN, "expired on 27/11/2026")]
    assert "expired on 27/11/2026" in world.cli("plan", "--now", now).stdout
    assert "expired on 27/11/2026" in world.cli("plan", "--now", now, "--format", "markdown").stdout
    assert world.cli("plan", "--now", now, "--detailed-exitcode").exit_code == 2

    applied = world.apply("--now", now)
    assert "Applied: 1 disable" in applied.stdout
    assert "pwdendtime" in world.backend.entry(AN)
    record = max((r for r in world.notes() if r["kind"] == "apply"), key=lambda r: r["applied_at"])
    assert record["changes"] == [{"action": "disable", "address": AN, "unit": "so-tttt", "fields": ["status"],
                                  "outcome": "ok", "reason": "expired on 27/11/2026"}]
    assert world.plan_json("--now", now)["changes"] == []


def test_validate_base_refuses_a_pull_request_that_sets_an_expiry_in_the_past(world):
    world.merge(mailbox(AN), mailbox(BINH, name="Trần Thị Bình", expires="2026-11-20"))
    world.repo.git.git.checkout("-b", "pr-20")
    world.repo.write("so-tttt.yaml", unit(mailbox(AN, expires="2026-10-01"),
                                          mailbox(BINH, name="Trần Thị Bình", expires="2026-11-20")))
    result = world.cli("validate", "--base", "main", "--today", "2026-11-28")
    assert result.exit_code == 1
    errors = [line for line in result.stdout.splitlines() if "lifecycle" in line or "sets an expiry" in line]
    assert errors == [f"mailboxes/so-tttt.yaml:10:14: {AN}: mailboxes[0].expires: this change sets an expiry in "
                      "the past (01/10/2026) on an active mailbox: set a future date, or status: disabled to "
                      "disable it now"]
    # BINH's date passed since it was reviewed: a warning, not a refusal.
    assert f"warning: {BINH}: mailboxes[1].expires: expired on 20/11/2026" in result.stdout


def test_report_lists_expired_but_still_active_and_expiring_soon(world):
    world.repo.write("so-tttt.yaml", unit(mailbox(AN, expires="2026-11-20"),
                                          mailbox(BINH, name="Trần Thị Bình", expires="2026-12-10")))
    world.repo.commit("Khai báo", date="2026-11-01T09:00:00+07:00")
    report = json.loads(world.cli("report", "--at", "2026-11-28", "--format", "json").stdout)
    assert [m["address"] for m in report["expired_active"]] == [AN]
    assert [m["address"] for m in report["expiring"]] == [BINH]
    markdown = world.cli("report", "--at", "2026-11-28").stdout
    late = markdown.split("## Expired but still active")[1].split("##")[0]
    assert f"| `{AN}` | Sở Thông tin và Truyền thông (`so-tttt`) | Nguyễn Văn An | 20/11/2026 |" in late
    assert BINH not in late


# --- Removals -------------------------------------------------------------------------------------------------


def test_a_tombstone_is_this_pull_requests_change_with_its_due_date_and_the_schedule_removes_it(world):
    world.merge(mailbox(AN), mailbox(BINH, name="Trần Thị Bình"))
    world.apply("--now", "2026-03-01T09:00:00+07:00")
    world.merge(mailbox(AN), mailbox(BINH, name="Trần Thị Bình", status="disabled"), message="Khoá Bình")
    world.apply("--now", "2026-03-02T09:00:00+07:00")

    world.repo.git.git.checkout("-b", "pr-30")
    world.repo.write("so-tttt.yaml", unit(mailbox(AN), mailbox(BINH, name="Trần Thị Bình", status="removed")))
    world.repo.commit("Xoá hộp thư Trần Thị Bình")
    during_pr = "2026-03-10T09:00:00+07:00"
    plan = world.plan_json("--base", "main", "--now", during_pr)
    assert plan["changes"] == []
    assert plan["deferred"] == [{"address": BINH, "unit": "so-tttt", "eligible_on": "2026-04-01", "origin": "change"}]
    text = world.cli("plan", "--base", "main", "--now", during_pr).stdout
    assert "No changes" not in text
    assert f"{BINH} Sở Thông tin và Truyền thông (so-tttt) (change)  removal due on 01/04/2026" in text
    markdown = world.cli("plan", "--base", "main", "--now", during_pr, "--format", "markdown").stdout
    assert "No changes" not in markdown and "**Nothing to apply now.**" in markdown
    this_pr = markdown.split("### Changes in this pull request")[1].split("### Drift")[0]
    assert f"| `{BINH}` | Trần Thị Bình | Sở Thông tin và Truyền thông | 01/04/2026 |" in this_pr

    world.repo.git.git.checkout("main")
    world.repo.git.git.merge("--no-ff", "pr-30", "-m", "Merge pull request #30 from quangngai/pr-30")
    early = world.cli("apply", "--yes", "--scheduled", "--now", "2026-03-31T09:00:00+07:00")
    assert early.exit_code == 0 and world.backend.entry(BINH) is not None
    # Drift is not the scheduled job's business: a hand edit waits for a person.
    world.backend.modify(AN, ou=["so-khac"])
    later_pr = world.plan_json("--base", "main", "--now", "2026-04-01T07:00:00+07:00")
    assert {c["address"]: (c["action"], c["origin"]) for c in later_pr["changes"]} == {
        BINH: ("remove", "scheduled"), AN: ("update", "drift")}
    later_md = world.cli("plan", "--base", "main", "--now", "2026-04-01T07:00:00+07:00", "--format", "markdown").stdout
    assert f"`{BINH}`" in later_md.split("### Due now or later (decided earlier)")[1]
    due = world.cli("apply", "--yes", "--scheduled", "--now", "2026-04-01T07:47:00+07:00")
    assert due.exit_code == 0, due.output
    assert world.backend.entry(BINH) is None
    assert world.backend.entry(AN)["ou"] == ["so-khac"]
    record = max((r for r in world.notes() if r["kind"] == "apply"), key=lambda r: r["applied_at"])
    assert record["changes"] == [{"action": "remove", "address": BINH, "unit": "so-tttt", "fields": [
        "aliases", "forward_to", "kind", "name", "owner", "status", "unit"], "outcome": "ok",
        "reason": "status: removed; removal due on 01/04/2026"}]


# --- Address rename --------------------------------------------------------------------------------------------


def test_an_address_rename_keeps_mail_arriving_at_the_new_mailbox(world):
    """The documented flow: the old mailbox is disabled (later removed); the same owner's new mailbox carries the
    old address as an alias; Postfix delivers mail for the old address to the new mailbox."""
    new = f"nguyenvanan@{DOMAIN}"
    world.merge(mailbox(AN, owner="QN-1"))
    world.apply("--now", "2026-03-01T09:00:00+07:00")
    assert postmap_query(world.slapd, "virtual-mailbox-maps", AN) == AN

    world.merge(mailbox(AN, owner="QN-1", status="disabled"), mailbox(new, owner="QN-1", aliases=[AN]),
                message="Đổi địa chỉ annv -> nguyenvanan")
    assert world.cli("validate").exit_code == 0
    world.apply("--now", "2026-03-02T09:00:00+07:00")
    assert postmap_query(world.slapd, "virtual-mailbox-maps", AN) is None
    assert postmap_query(world.slapd, "virtual-alias-maps", AN) == new
    assert postmap_query(world.slapd, "virtual-mailbox-maps", new) == new

    world.merge(mailbox(AN, owner="QN-1", status="removed"), mailbox(new, owner="QN-1", aliases=[AN]))
    world.apply("--now", "2026-04-02T09:00:00+07:00")
    assert world.backend.entry(AN) is None
    assert postmap_query(world.slapd, "virtual-alias-maps", AN) == new

    # While the old mailbox is active the alias is refused, naming the rename flow.
    world.repo.write("so-tttt.yaml", unit(mailbox(AN, owner="QN-1"), mailbox(new, owner="QN-1", aliases=[AN])))
    refused = world.cli("validate")
    assert refused.exit_code == 1
    assert (f"mailboxes/so-tttt.yaml:15:15: {new}: mailboxes[1].aliases[0]: alias '{AN}' is the address of the "
            "mailbox at mailboxes/so-tttt.yaml:5:14; to rename an address, disable the old mailbox in the same "
            "change") in refused.stdout
    # Nor may another person take the old address as an alias, even once it is disabled.
    world.repo.write("so-tttt.yaml", unit(mailbox(AN, owner="QN-1", status="disabled"),
                                          mailbox(new, owner="QN-2", aliases=[AN])))
    assert f"alias '{AN}' is the address of the mailbox at" in world.cli("validate").stdout


# --- Owners and credentials ------------------------------------------------------------------------------------


def test_a_functional_mailbox_changing_owner_reminds_to_issue_credentials(world):
    binh = mailbox(BINH, name="Trần Thị Bình", owner="QN-2")
    world.merge(mailbox(AN, owner="QN-1"), binh,
                mailbox(VANTHU, name="Văn thư Sở", kind="functional", owner="QN-1", owner_name="Nguyễn Văn An"))
    world.apply()
    assert "credentials" not in world.cli("plan").stdout
    world.merge(mailbox(AN, owner="QN-1"), binh,
                mailbox(VANTHU, name="Văn thư Sở", kind="functional", owner="QN-2", owner_name="Trần Thị Bình"))
    reminder = (f"the owner of {VANTHU} changes from QN-1 to QN-2 (Trần Thị Bình): once applied, issue new "
                f"credentials with `reconciler credentials issue {VANTHU}`")
    assert f"! credentials {reminder}" in world.cli("plan").stdout
    assert md(reminder) in world.cli("plan", "--format", "markdown").stdout
    assert world.plan_json()["reminders"] == [{"address": VANTHU, "message": reminder}]
    assert f"credentials: {reminder}" in world.apply().stdout


def test_credentials_issue_appends_a_record_without_the_password(world, monkeypatch):
    world.merge(mailbox(AN))
    world.apply()
    monkeypatch.setenv("GITHUB_ACTOR", "tranthikt")
    result = world.cli("credentials", "issue", AN, "--print")
    assert result.exit_code == 0, result.output
    password = next(line.strip() for line in result.stdout.splitlines() if line.startswith("    "))
    (record,) = [r for r in world.notes() if r["kind"] == "credentials"]
    assert record["address"] == AN and record["issued_by"] == "tranthikt"
    assert record["issued_at"].endswith("+07:00") and record["commit"] == world.repo.git.head.commit.hexsha
    notes = world.repo.git.git.notes("--ref", "reconciler", "show", "HEAD")
    assert password not in notes and password.replace("-", "") not in notes


# --- Names --------------------------------------------------------------------------------------------------------


def test_decomposed_names_are_read_as_nfc_and_plan_no_invisible_update(world):
    typed = unicodedata.normalize("NFD", "Lê Thị Tiên")
    assert typed != "Lê Thị Tiên"
    world.merge(mailbox(f"tienlt@{DOMAIN}", name="Lê Thị Tiên"))
    world.apply()
    world.merge(mailbox(f"tienlt@{DOMAIN}", name=typed))
    assert world.plan_json()["changes"] == []
    new = world.cli("new", typed, "--unit", "so-tttt", "--owner-id", "QN-9", "--ticket", "1/QĐ")
    assert new.exit_code == 0, new.output
    assert '    name: Lê Thị Tiên' in new.stdout and typed not in new.stdout


# --- Exit codes ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [("plan", "--bogus"), ("plan", "--format", "xml"), ("credentials", "issue"),
                                  ("history",), ("nonsense",)])
def test_usage_errors_exit_1_with_one_line(world, args):
    result = world.cli(*args)
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
