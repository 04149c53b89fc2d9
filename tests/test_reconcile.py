"""Plan and apply, end to end through the CLI, against both the real slapd and the LDIF directory."""

from __future__ import annotations

import json

import pytest
from support.backends import Backend, dn_of
from support.units import ADMIN_RESET, people, unit_file


@pytest.fixture
def cli(repo, backend, run_cli):
    def run(*args: str, input: str | None = None):
        if args[0] == "apply" and repo.git.is_dirty(untracked_files=True):
            repo.commit()  # apply takes committed declarations only (see test_git_flow.py)
        return run_cli(*args, cwd=repo.root, env=backend.env, input=input)

    return run


def plan_json(cli, *args: str) -> dict:
    result = cli("plan", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_full_cycle_create_then_nothing_to_do(repo, backend, cli):
    repo.write("so-tttt.yaml", unit_file([
        {"address": "annv@quangngai.gov.vn", "aliases": ["an.nguyen@quangngai.gov.vn"]},
        {"address": "vanthu.stttt@quangngai.gov.vn", "kind": "functional", "owner": "QN-annv",
         "name": "Văn thư Sở", "forward_to": ["annv@quangngai.gov.vn"]},
        {"address": "binhtt@quangngai.gov.vn", "status": "disabled", "name": "Trần Thị Bình"},
    ]))
    plan = plan_json(cli)
    assert plan["summary"] == {"create": 3, "update": 0, "disable": 0, "enable": 0, "remove": 0, "unchanged": 0,
                               "unmanaged": 0, "deferred": 0, "violations": 0, "unreadable": 0,
                               "not_mailboxes": 0}
    assert plan["checksum"].startswith("sha256:")
    detailed = cli("plan", "--detailed-exitcode")
    assert detailed.exit_code == 2

    applied = cli("apply", "--yes")
    assert applied.exit_code == 0, applied.output
    assert "Applied: 3 create (from commit " in applied.stdout

    entry = backend.entry("annv@quangngai.gov.vn")
    assert entry is not None
    assert entry["mail"] == ["annv@quangngai.gov.vn"]
    assert entry["sn"] == ["Nguyễn"] and entry["givenname"] == ["An"] and entry["cn"] == ["Nguyễn Văn An"]
    assert entry["ou"] == ["Sở Thông tin và Truyền thông"] and entry["employeenumber"] == ["QN-annv"]
    assert entry["maillocaladdress"] == ["an.nguyen@quangngai.gov.vn"]
    assert "pwdendtime" not in entry and "userpassword" not in entry
    assert backend.entry("vanthu.stttt@quangngai.gov.vn")["mailroutingaddress"] == ["annv@quangngai.gov.vn"]
    assert "pwdendtime" in backend.entry("binhtt@quangngai.gov.vn")

    again = plan_json(cli)
    assert again["changes"] == [] and again["summary"]["unchanged"] == 3
    assert cli("plan", "--detailed-exitcode").exit_code == 0
    text = cli("plan")
    assert "No changes." in text.stdout and "Last applied: " in text.stdout


def test_update_touches_only_owned_attributes(repo, backend, cli):
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn"}]))
    assert cli("apply", "--yes").exit_code == 0
    backend.modify("annv@quangngai.gov.vn", telephoneNumber=["+84 255 3822 111"], displayName=["Sửa tay"])
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn", "name": "Nguyễn Văn Ân",
                                          "aliases": ["an.nguyen@quangngai.gov.vn"]}]))
    plan = plan_json(cli)
    (change,) = plan["changes"]
    assert change["action"] == "update"
    assert set(change["after"]) == {"name", "aliases"}
    assert cli("apply", "--yes").exit_code == 0
    entry = backend.entry("annv@quangngai.gov.vn")
    assert entry["displayname"] == ["Nguyễn Văn Ân"] and entry["givenname"] == ["Ân"]
    assert entry["telephonenumber"] == ["+84 255 3822 111"]  # not ours: left alone
    assert plan_json(cli)["changes"] == []


def test_hand_edit_is_drift_and_is_repaired(repo, backend, cli):
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn", "aliases": ["an@quangngai.gov.vn"]}]))
    assert cli("apply", "--yes").exit_code == 0
    backend.modify("annv@quangngai.gov.vn", mailLocalAddress=["an@gmail.com"], ou=["so-khac"])
    (change,) = plan_json(cli)["changes"]
    assert change["before"] == {"unit": "so-khac (not a unit name)", "aliases": ["an@gmail.com"]}
    assert cli("apply", "--yes").exit_code == 0
    assert backend.entry("annv@quangngai.gov.vn")["ou"] == ["Sở Thông tin và Truyền thông"]
    assert backend.entry("annv@quangngai.gov.vn")["maillocaladdress"] == ["an@quangngai.gov.vn"]


def test_unmanaged_accounts_are_reported_and_never_touched(repo, backend, cli):
    backend.add(dn_of("old.account@quangngai.gov.vn"), {
        "objectClass": ["inetOrgPerson"], "uid": ["old.account"], "mail": ["old.account@quangngai.gov.vn"],
        "cn": ["Old"], "sn": ["Old"]})
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn"}]))
    plan = plan_json(cli)
    assert plan["unmanaged"] == ["old.account@quangngai.gov.vn"]
    assert [c["address"] for c in plan["changes"]] == ["annv@quangngai.gov.vn"]
    assert cli("apply", "--yes").exit_code == 0
    assert backend.entry("old.account@quangngai.gov.vn")["cn"] == ["Old"]
    assert "unmanaged" in cli("plan").stdout


def test_removal_waits_for_the_grace_period(repo, backend, cli):
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn"}]))
    assert cli("apply", "--yes", "--now", "2026-10-01T08:00:00+07:00").exit_code == 0
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn", "status": "removed"}]))
    # active -> removed in one step: the plan disables first.
    (change,) = plan_json(cli, "--now", "2026-10-02T08:00:00+07:00")["changes"]
    assert change["action"] == "disable"
    assert cli("apply", "--yes", "--now", "2026-10-02T08:00:00+07:00").exit_code == 0
    waiting = plan_json(cli, "--now", "2026-10-20T08:00:00+07:00")
    assert waiting["changes"] == []
    assert waiting["deferred"] == [{"address": "annv@quangngai.gov.vn", "unit": "so-tttt",
                                    "eligible_on": "2026-11-01"}]
    assert cli("apply", "--yes", "--now", "2026-10-20T08:00:00+07:00").exit_code == 0
    assert backend.entry("annv@quangngai.gov.vn") is not None
    (removal,) = plan_json(cli, "--now", "2026-11-01T08:00:00+07:00")["changes"]
    assert removal["action"] == "remove"
    assert cli("apply", "--yes", "--now", "2026-11-01T08:00:00+07:00").exit_code == 0
    assert backend.entry("annv@quangngai.gov.vn") is None
    assert plan_json(cli, "--now", "2026-11-02T08:00:00+07:00")["changes"] == []


def test_threshold_refuses_mass_disable_unless_forced(repo, backend, cli):
    repo.write("so-tttt.yaml", unit_file(people(20)))
    assert cli("apply", "--yes").exit_code == 0
    many = people(20)
    for m in many[:3]:
        m["status"] = "disabled"
    repo.write("so-tttt.yaml", unit_file(many))
    refused = cli("apply", "--yes")
    assert refused.exit_code == 1
    assert "disables or removes 3 of 20 managed accounts (15%" in refused.stderr and "--force" in refused.stderr
    assert all("pwdendtime" not in backend.entry(m["address"]) for m in many[:3])
    forced = cli("apply", "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert all("pwdendtime" in backend.entry(m["address"]) for m in many[:3])


def test_threshold_does_not_apply_below_minimum(repo, backend, cli):
    repo.write("so-tttt.yaml", unit_file(people(5)))
    assert cli("apply", "--yes").exit_code == 0
    repo.write("so-tttt.yaml", unit_file(people(5, status="disabled")))
    assert cli("apply", "--yes").exit_code == 0


def test_saved_plan_must_match(repo, backend, cli, tmp_path):
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn"}]))
    saved = tmp_path / "plan.json"
    assert cli("plan", "--out", str(saved)).exit_code == 0
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn"}, {"address": "x@quangngai.gov.vn"}]))
    refused = cli("apply", "--yes", "--plan", str(saved))
    assert refused.exit_code == 1 and "checksum differs" in refused.stderr
    assert backend.entry("annv@quangngai.gov.vn") is None
    assert cli("plan", "--out", str(saved)).exit_code == 0
    assert cli("apply", "--yes", "--plan", str(saved)).exit_code == 0
    assert backend.entry("x@quangngai.gov.vn") is not None


def test_dry_run_and_confirmation_change_nothing(repo, backend, cli):
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn"}]))
    dry = cli("apply", "--dry-run")
    assert dry.exit_code == 0 and "dry run: nothing was changed" in dry.stdout
    no_tty = cli("apply")
    assert no_tty.exit_code == 1 and "pass --yes" in no_tty.stderr
    assert backend.entry("annv@quangngai.gov.vn") is None


def test_lock_stops_a_second_apply_and_a_live_holder_is_not_broken(repo, backend, cli):
    """A lock whose holder runs (here: this very process) is not broken by --break-lock; see
    test_apply_lock.py for stale locks, tokens and heartbeats."""
    from reconciler import settings
    from reconciler.directory import open_directory

    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn"}]))
    loaded = settings.with_environment(settings.load(repo.config), backend.env)
    other = open_directory(loaded)
    other.acquire_lock("ci-run-41@runner")
    try:
        blocked = cli("apply", "--yes")
        assert blocked.exit_code == 1
        assert "another apply holds the lock" in blocked.stderr and "ci-run-41@runner" in blocked.stderr
        assert backend.entry("annv@quangngai.gov.vn") is None
        refused = cli("apply", "--yes", "--break-lock")
        assert refused.exit_code == 1
        assert "refusing to break the apply lock" in refused.stderr and "ci-run-41@runner" in refused.stderr
        assert backend.entry("annv@quangngai.gov.vn") is None
        if backend.slapd is not None:  # an LDAP lock can be forced; an operating-system lock cannot
            forced = cli("apply", "--yes", "--break-lock", "--force")
            assert forced.exit_code == 0, forced.output
            assert "broke the apply lock (held by ci-run-41@runner" in forced.stdout
    finally:
        other.close()
    # The lock is released after an apply: another one runs.
    assert cli("apply", "--yes").exit_code == 0


def test_one_failure_does_not_stop_the_others_and_rerun_converges(repo, backend, cli):
    # An unmanaged entry squats the DN the new mailbox needs: its create fails, the others go through.
    backend.add(dn_of("annv@quangngai.gov.vn"), {
        "objectClass": ["inetOrgPerson"], "uid": ["annv"], "mail": ["an.cu@quangngai.gov.vn"], "cn": ["Cũ"],
        "sn": ["Cũ"]})
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn"}, *people(3)]))
    result = cli("apply", "--yes")
    assert result.exit_code == 1
    assert "create annv@quangngai.gov.vn:" in result.stderr and "1 of 4 change(s) failed" in result.stderr
    assert all(backend.entry(m["address"]) is not None for m in people(3))
    backend.delete("annv@quangngai.gov.vn")  # the administrator clears the squatter
    assert cli("apply", "--yes").exit_code == 0
    assert plan_json(cli)["changes"] == []


def test_markdown_plan_for_a_pull_request(repo, backend, cli):
    repo.write("so-tttt.yaml", unit_file(people(12)))
    result = cli("plan", "--format", "markdown")
    assert result.exit_code == 0
    md = result.stdout
    assert "| Create | Update | Enable | Disable | Remove | Unchanged | Unmanaged |" in md
    assert "| 12 | 0 | 0 | 0 | 0 | 0 | 0 |" in md
    assert "<details><summary><b>Create</b> (12)</summary>" in md
    # A unit head approves people, not ids: the person's name and the unit's full name on every row.
    assert "| `user00@quangngai.gov.vn` | Nguyễn Văn An | Sở Thông tin và Truyền thông | — |" in md


def test_plan_refuses_invalid_declarations(repo, backend, cli):
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@gmail.com"}]))
    result = cli("plan")
    assert result.exit_code == 1
    assert ("mailboxes/so-tttt.yaml:5:14: annv@gmail.com: mailboxes[0].address: 'annv@gmail.com' is at a public "
            "mail provider") in result.stderr


def test_import_adopts_live_accounts(repo, backend, cli):
    backend.add(dn_of("lamdt@quangngai.gov.vn"), {
        "objectClass": ["inetOrgPerson", "inetLocalMailRecipient"], "uid": ["lamdt"],
        "mail": ["lamdt@quangngai.gov.vn"], "cn": ["Đỗ Tùng Lâm"], "sn": ["Đỗ"], "ou": ["so-noi-vu"],
        "mailLocalAddress": ["lam.do@quangngai.gov.vn"]})
    result = cli("import")
    assert result.exit_code == 0, result.output
    assert "Imported 1 account(s) into 1 unit file(s)" in result.stdout
    text = (repo.root / "mailboxes" / "so-noi-vu.yaml").read_text()
    assert "  - address: lamdt@quangngai.gov.vn" in text and "aliases: [lam.do@quangngai.gov.vn]" in text
    check = cli("validate")
    assert check.exit_code == 1
    fields = {line.split(": ")[2] for line in check.stdout.splitlines() if line.startswith("mailboxes/so-noi-vu")}
    assert all(": lamdt@quangngai.gov.vn: " in line for line in check.stdout.splitlines()
               if line.startswith("mailboxes/so-noi-vu"))
    assert fields == {"mailboxes[0].kind", "mailboxes[0].owner.id"}
    path = repo.root / "mailboxes" / "so-noi-vu.yaml"
    path.write_text(text.replace('kind: ""', "kind: personal").replace('id: ""', "id: QN-000777"))
    assert cli("validate").exit_code == 0
    assert plan_json(cli)["changes"] == [{"action": "update", "address": "lamdt@quangngai.gov.vn", "unit": "so-noi-vu",
                                          "before": {"kind": None, "owner": None},
                                          "after": {"kind": "personal", "owner": "QN-000777"}}]
    again = cli("import")
    assert again.exit_code == 0 and "Imported 0 account(s)" in again.stdout


def test_real_binds_follow_the_declared_status(repo, slapd, run_cli):
    """The effect as a user sees it: a bind succeeds while active, fails while disabled (even after an
    administrator resets the password) and succeeds again once enabled."""
    backend = Backend("slapd", repo.root, slapd, {"RECONCILER_BIND_DN": slapd.admin_dn,
                                                  "RECONCILER_BIND_PASSWORD": slapd.admin_password})
    backend.configure(repo.config)

    def cli(*args: str):
        if args[0] == "apply":
            repo.commit()
        return run_cli(*args, cwd=repo.root, env=backend.env)

    address = "annv@quangngai.gov.vn"
    repo.write("so-tttt.yaml", unit_file([{"address": address}]))
    assert cli("apply", "--yes").exit_code == 0
    issued = cli("credentials", "issue", address, "--print")
    assert issued.exit_code == 0, issued.output
    password = next(word for line in issued.stdout.splitlines() for word in line.split()
                    if word.count("-") == 3 and len(word) == 23)
    assert backend.slapd.can_bind(dn_of(address), password)

    repo.write("so-tttt.yaml", unit_file([{"address": address, "status": "disabled"}]))
    assert cli("apply", "--yes").exit_code == 0
    assert not backend.slapd.can_bind(dn_of(address), password)
    backend.modify(address, userPassword=[ADMIN_RESET])
    assert not backend.slapd.can_bind(dn_of(address), ADMIN_RESET)

    repo.write("so-tttt.yaml", unit_file([{"address": address}]))
    assert cli("apply", "--yes").exit_code == 0
    assert backend.slapd.can_bind(dn_of(address), ADMIN_RESET)


def test_server_text_is_never_read_as_markup(capsys):
    from reconciler.cli.terminal import Terminal

    Terminal().error("uid=a,dc=x: [/bold] closing tag from a server [red]")
    assert "[/bold] closing tag from a server [red]" in capsys.readouterr().err
