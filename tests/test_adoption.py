"""Adopting a real, untidy directory in one run (issue 10), against a real slapd.

The directory holds what a province's hand-made directory holds: service accounts without `mail`, an
entry with two `mail` values, a DN that does not match its address, free-text `ou` values, staff ids
with leading zeros, hand-split names, a disabled account, a forward to Gmail and an account outside the
official domains forwarding to outlook.com. `import` adopts it in one run, `validate` passes on what it
wrote, the next plan changes nothing it imported and shows the violations, and the drift check exits 2.
"""

from __future__ import annotations

import json

import pytest
from support.backends import BASE_DN, Backend

PERSON = ["top", "person", "organizationalPerson", "inetOrgPerson", "inetLocalMailRecipient"]


def person(uid: str, mail: str | list[str], name: str, ou: str | None, owner: str | None, kind: str = "personal",
           **extra: list[str]) -> tuple[str, dict[str, list[str]]]:
    family, *_, given = name.split()
    attrs = {"objectClass": PERSON, "uid": [uid], "mail": mail if isinstance(mail, list) else [mail],
             "cn": [name], "sn": [family], "givenName": [given], "employeeType": [kind], **extra}
    if ou:
        attrs["ou"] = [ou]
    if owner:
        attrs["employeeNumber"] = [owner]
    return f"uid={uid},{BASE_DN}", attrs


UNTIDY = [
    # Sở Tài chính: free-text ou, staff ids with leading zeros, a hand-split givenName, a Gmail forward
    person("annv", "annv@quangngai.gov.vn", "Nguyễn Văn An", "Sở Tài chính", "000123",
           givenName=["Văn An"], displayName=["Nguyễn Văn An"], mailLocalAddress=["an.nguyen@quangngai.gov.vn"]),
    person("binhtt", "binhtt@quangngai.gov.vn", "Trần Thị Bình", "Sở Tài chính", "000456",
           mailRoutingAddress=["binh.tran1980@gmail.com"]),
    person("vanthu.stc", "vanthu.stc@quangngai.gov.vn", "Văn thư Sở Tài chính", "Sở Tài chính", "000123",
           kind="functional"),
    # So Y te: unaccented free text, a disabled account
    person("hoalt", "hoalt@quangngai.gov.vn", "Lê Thị Hoa", "So Y te", "007001"),
    person("cuongpv", "cuongpv@quangngai.gov.vn", "Phạm Văn Cường", "So Y te", "007002",
           pwdEndTime=["20260301000000Z"]),
    # outside the official domains, active, forwarding to outlook.com: cannot be declared, stays unmanaged
    person("ketoan.cu", "ketoan.cu@quangngai.edu.vn", "Kế toán cũ", "So Y te", "007003", kind="functional",
           mailRoutingAddress=["ketoan.qn@outlook.com"]),
    # entries the profile cannot read
    person("hai", ["hai@quangngai.gov.vn", "hai.le@quangngai.gov.vn"], "Lê Văn Hải", "So Y te", "007004"),
    person("nhamlan", "lan.nguyen@quangngai.gov.vn", "Nguyễn Thị Lan", "So Y te", "007005"),
    # service accounts: an inetOrgPerson without mail, the webmail's bind account, one kept out by a filter
    (f"uid=scanner,{BASE_DN}", {"objectClass": ["inetOrgPerson"], "uid": ["scanner"], "cn": ["Máy quét"],
                                "sn": ["scanner"]}),
    (f"cn=webmail,{BASE_DN}", {"objectClass": ["applicationProcess", "simpleSecurityObject"], "cn": ["webmail"],
                               "userPassword": ["{SSHA}x"]}),
    person("backup", "backup@quangngai.gov.vn", "Sao lưu hệ thống", None, None, kind="service",
           mailRoutingAddress=["backup.qn@gmail.com"]),
]
UNREADABLE = [f"uid=hai,{BASE_DN}", f"uid=nhamlan,{BASE_DN}"]
NOT_MAILBOXES = [f"cn=webmail,{BASE_DN}", f"uid=scanner,{BASE_DN}"]


@pytest.fixture
def untidy(repo, slapd):
    backend = Backend("slapd", repo.root, slapd, {"RECONCILER_BIND_DN": slapd.admin_dn,
                                                  "RECONCILER_BIND_PASSWORD": slapd.admin_password})
    backend.configure(repo.config)
    text = repo.config.read_text(encoding="utf-8")
    text = text.replace(f"  base_dn: {BASE_DN}\n", f"  base_dn: {BASE_DN}\n  ignore: ['(employeeType=service)']\n")
    text = text.replace("public_mail_domains: [gmail.com,", "public_mail_domains: [gmail.com, outlook.com,")
    assert "ignore:" in text and "outlook.com" in text
    repo.config.write_text(text, encoding="utf-8")
    for dn, attrs in UNTIDY:
        backend.add(dn, attrs)
    return backend


@pytest.fixture
def cli(repo, untidy, run_cli):
    def run(*args: str):
        if args[0] == "apply" and repo.git.is_dirty(untracked_files=True):
            repo.commit("Nhận quản lý danh bạ hiện có")
        return run_cli(*args, cwd=repo.root, env=untidy.env)

    return run


def snapshot(slapd, dns: list[str]) -> dict[str, str]:
    return {dn: slapd.ldapsearch(dn, attrs=["*", "+"], scope="base") for dn in dns}


def test_untidy_directory_is_adopted_in_one_run(repo, slapd, untidy, cli):
    untouchable = snapshot(slapd, [*UNREADABLE, *NOT_MAILBOXES, f"uid=backup,{BASE_DN}"])

    imported = cli("import")
    assert imported.exit_code == 0, imported.output
    out = imported.stdout
    assert "Imported 5 account(s) into 2 unit file(s)" in out
    assert sorted(p.name for p in (repo.root / "mailboxes").iterdir()) == ["so-tai-chinh.yaml", "so-y-te.yaml"]
    finance = (repo.root / "mailboxes" / "so-tai-chinh.yaml").read_text(encoding="utf-8")
    assert "  name: Sở Tài chính" in finance and 'owner: {id: "000123", name: Nguyễn Văn An}' in finance
    assert "gmail" not in finance
    assert "  name: So Y te" in (repo.root / "mailboxes" / "so-y-te.yaml").read_text(encoding="utf-8")
    assert "binhtt@quangngai.gov.vn: forward binh.tran1980@gmail.com is at a public mail provider (gmail.com)" in out
    assert "ketoan.cu@quangngai.edu.vn (So Y te): active, outside the official domains (quangngai.edu.vn)" in out
    assert f"uid=hai,{BASE_DN}: entry has 2 'mail' values" in out
    assert f"uid=nhamlan,{BASE_DN}: the DN does not match the address lan.nguyen@quangngai.gov.vn" in out
    assert all(dn in out for dn in NOT_MAILBOXES) and "backup" not in out  # directory.ignore: not even listed

    validated = cli("validate")
    assert validated.exit_code == 0, validated.output

    planned = cli("plan", "--format", "json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    # Nothing imported is changed: the one change repairs the Gmail forward (a violation).
    assert plan["changes"] == [{"action": "update", "address": "binhtt@quangngai.gov.vn", "unit": "so-tai-chinh",
                                "before": {"forward_to": ["binh.tran1980@gmail.com"]}, "after": {"forward_to": []}}]
    assert plan["summary"]["unchanged"] == 4 and plan["summary"]["violations"] == 2
    assert plan["violations"] == [
        {"address": "binhtt@quangngai.gov.vn", "unit": "so-tai-chinh", "field": "forward_to",
         "value": "binh.tran1980@gmail.com", "reason": "public mail provider (gmail.com)", "managed": True},
        {"address": "ketoan.cu@quangngai.edu.vn", "unit": "so-y-te", "field": "forward_to",
         "value": "ketoan.qn@outlook.com", "reason": "public mail provider (outlook.com)", "managed": False}]
    assert plan["unmanaged"] == ["ketoan.cu@quangngai.edu.vn"]
    assert [u["dn"] for u in plan["unreadable"]] == UNREADABLE
    assert plan["not_mailboxes"] == NOT_MAILBOXES
    assert "backup" not in planned.stdout

    for fmt in ("text", "markdown"):
        shown = cli("plan", "--format", fmt).stdout
        assert "Policy violations in the live directory" in shown and "ketoan.qn@outlook.com" in shown
        assert "directory.ignore keeps 1 entry out of this plan" in shown
    assert cli("plan", "--detailed-exitcode").exit_code == 2

    applied = cli("apply", "--yes")
    assert applied.exit_code == 0, applied.output
    assert "mailRoutingAddress" not in slapd.ldapsearch(f"uid=binhtt,{BASE_DN}", attrs=["mailRoutingAddress"],
                                                        scope="base")
    assert snapshot(slapd, list(untouchable)) == untouchable
    after = json.loads(cli("plan", "--format", "json").stdout)
    assert after["changes"] == [] and [v["address"] for v in after["violations"]] == ["ketoan.cu@quangngai.edu.vn"]
    # The unmanaged violation is reported until someone adopts or removes the account.
    assert cli("plan", "--detailed-exitcode").exit_code == 2


def test_a_later_import_adds_new_accounts_to_the_existing_unit_file(repo, slapd, untidy, cli):
    assert cli("import").exit_code == 0
    path = repo.root / "mailboxes" / "so-tai-chinh.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("Imported from the live directory", "Reviewed"),
                    encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    untidy.add(*person("dungdn", "dungdn@quangngai.gov.vn", "Đặng Ngọc Dũng", "Sở Tài chính", "000789"))
    again = cli("import")
    assert again.exit_code == 0, again.output
    assert "Imported 1 account(s) into 1 unit file(s)" in again.stdout
    assert "Added to existing unit files: so-tai-chinh.yaml." in again.stdout
    text = path.read_text(encoding="utf-8")
    assert text.startswith(before) and 'owner: {id: "000789", name: Đặng Ngọc Dũng}' in text
    assert cli("validate").exit_code == 0
    plan = json.loads(cli("plan", "--format", "json").stdout)
    assert [c["address"] for c in plan["changes"]] == ["binhtt@quangngai.gov.vn"]  # only the violation's repair


def test_an_undeclarable_account_is_retired_through_a_legacy_entry(repo, slapd, untidy, cli):
    assert cli("import").exit_code == 0
    path = repo.root / "mailboxes" / "so-y-te.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n".join([
        "  - address: ketoan.cu@quangngai.edu.vn",
        "    name: Kế toán cũ",
        "    kind: functional",
        '    owner: {id: "007001", name: Lê Thị Hoa}',
        "    status: active",
        "    legacy: true",
    ]) + "\n", encoding="utf-8")
    refused = cli("validate")
    assert refused.exit_code == 1
    assert "ketoan.cu@quangngai.edu.vn is a legacy account: it can only be declared disabled or removed" \
        in refused.stdout
    path.write_text(path.read_text(encoding="utf-8").replace("    status: active\n    legacy: true",
                                                             "    status: disabled\n    legacy: true"),
                    encoding="utf-8")
    assert cli("validate").exit_code == 0
    plan = json.loads(cli("plan", "--format", "json").stdout)
    (disable,) = [c for c in plan["changes"] if c["address"] == "ketoan.cu@quangngai.edu.vn"]
    assert disable["action"] == "disable" and disable["after"]["forward_to"] == []
    assert plan["unmanaged"] == []
    assert cli("apply", "--yes").exit_code == 0
    assert "pwdEndTime:" in slapd.ldapsearch(f"uid=ketoan.cu,{BASE_DN}", attrs=["pwdEndTime"], scope="base")


def test_live_report_lists_what_the_directory_holds_per_unit(repo, slapd, untidy, cli):
    """Before anything is declared every account is unmanaged and grouped by its `ou` as written; once
    imported, units carry their declared ids and only what is still undeclared stays unmanaged."""
    before = json.loads(cli("report", "--live", "--format", "json").stdout)
    assert {u["name"]: u["unit"] for u in before["units"]} == {"Sở Tài chính": None, "So Y te": None}
    assert before["summary"] == {"accounts": 6, "forwards_and_aliases_outside": 2, "unmanaged": 6, "disabled": 1,
                                 "unreadable": 2, "not_mailboxes": 2}
    assert cli("import").exit_code == 0
    report = json.loads(cli("report", "--live", "--format", "json").stdout)
    health = next(u for u in report["units"] if u["unit"] == "so-y-te")
    assert health["name"] == "So Y te"
    assert [(h["address"], h["status"]) for h in health["unmanaged"]] == [("ketoan.cu@quangngai.edu.vn", "active")]
    assert health["outside"] == [{"address": "ketoan.cu@quangngai.edu.vn", "what": "forward",
                                  "value": "ketoan.qn@outlook.com", "reason": "public mail provider (outlook.com)",
                                  "managed": False}]
    (disabled,) = health["disabled"]
    assert disabled["address"] == "cuongpv@quangngai.gov.vn" and disabled["managed"] is True
    assert disabled["disabled_since"] == "2026-03-01T07:00:00+07:00"  # Vietnam time, with its offset

    text = cli("report", "--live").stdout
    assert "So Y te (so-y-te)" in text and "cuongpv@quangngai.gov.vn (Phạm Văn Cường): disabled since 01/03/2026 " \
        "07:00 +07:00" in text
    assert "binhtt@quangngai.gov.vn: forward to binh.tran1980@gmail.com (public mail provider (gmail.com))" in text
    markdown = cli("report", "--live", "--format", "markdown").stdout
    assert "### Sở Tài chính (so-tai-chinh)" in markdown and "| `ketoan.cu@quangngai.edu.vn` | forward |" in markdown
    rows = cli("report", "--live", "--format", "csv").stdout.splitlines()
    assert rows[0] == "\ufeffunit,unit_name,address,finding,value,reason,managed,status,disabled_since"
    assert "so-y-te,So Y te,cuongpv@quangngai.gov.vn,disabled,,,True,disabled,2026-03-01T07:00:00+07:00" in rows
    assert "backup" not in "".join(rows)  # directory.ignore
    refused = cli("report", "--live", "--at", "2026-01-01")
    assert refused.exit_code == 1 and "--live" in refused.stderr


def test_live_report_shows_times_in_the_timezone_setting_as_plan_does(repo, untidy, cli):
    """One clock: with `timezone: Europe/Paris` the live report writes the disable time with +01:00, as plan does."""
    assert cli("import").exit_code == 0
    repo.config.write_text(repo.config.read_text(encoding="utf-8") + "timezone: Europe/Paris\n", encoding="utf-8")
    assert cli("apply", "--yes").exit_code == 0
    plan = cli("plan").stdout
    assert "Last applied: " in plan and "+01:00" in plan and "+07:00" not in plan
    text = cli("report", "--live").stdout
    assert "cuongpv@quangngai.gov.vn (Phạm Văn Cường): disabled since 01/03/2026 01:00 +01:00" in text
    assert "+07:00" not in text
    report = json.loads(cli("report", "--live", "--format", "json").stdout)
    (disabled,) = next(u for u in report["units"] if u["unit"] == "so-y-te")["disabled"]
    assert disabled["disabled_since"] == "2026-03-01T01:00:00+01:00"
    assert report["generated_at"].endswith("+01:00")
