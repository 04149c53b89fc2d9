"""import, pure: one unit file per live `ou`, values that read back as written, what the policy forbids left out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml

from reconciler.declarations import desired, policy
from reconciler.declarations.importer import build, slug, unit_files
from reconciler.declarations.yamlsource import parse
from reconciler.model import Account

DOMAINS = ("quangngai.gov.vn",)
PUBLIC = ("gmail.com", "outlook.com")


def account(address: str, ou: str | None = "Sở Tài chính", *, owner: str | None = "QN-1", kind: str | None = "personal",
            name: str = "Nguyễn Văn An", disabled: bool = False, **fields) -> Account:
    return Account(address, {"unit": ou, "kind": kind, "owner": owner, "aliases": fields.get("aliases", []),
                             "forward_to": fields.get("forward_to", [])},
                   datetime(2026, 1, 1, tzinfo=UTC) if disabled else None, name=name)


def test_imported_values_round_trip_through_yaml():
    names = ["&Co", "@x", "- dash", "yes", "Nguyễn Văn An", "Lê: Văn", "#tag", ""]
    accounts = [account(f"u{i}@quangngai.gov.vn", "so-tttt", name=name) for i, name in enumerate(names)]
    (text,) = unit_files(accounts).values()
    loaded = yaml.safe_load(text)
    assert [m["name"] for m in loaded["mailboxes"]] == names


def test_unit_file_names_are_slugs_and_unit_names_are_kept():
    assert slug("Sở Tài chính") == "so-tai-chinh" and slug("So Y te") == "so-y-te"
    assert slug("Đài Phát thanh & Truyền hình") == "dai-phat-thanh-truyen-hinh"
    result = build([account("a@quangngai.gov.vn"), account("b@quangngai.gov.vn", "So Y te", owner="QN-2"),
                    account("c@quangngai.gov.vn", None, owner="QN-3")], domains=DOMAINS, public_mail_domains=PUBLIC)
    assert sorted(result.files) == ["chua-phan-loai", "so-tai-chinh", "so-y-te"]
    assert parse(result.files["so-tai-chinh"], "x").data["unit"] == {"id": "so-tai-chinh", "name": "Sở Tài chính"}
    assert parse(result.files["so-y-te"], "x").data["unit"]["name"] == "So Y te"


def test_staff_ids_with_leading_zeros_stay_strings():
    result = build([account("a@quangngai.gov.vn", owner="000123")], domains=DOMAINS, public_mail_domains=PUBLIC)
    text = result.files["so-tai-chinh"]
    assert 'id: "000123"' in text
    assert yaml.safe_load(text)["mailboxes"][0]["owner"]["id"] == "000123"  # not 83 (octal)


def test_what_the_policy_forbids_is_left_out_and_named(tmp_path: Path):
    result = build([
        account("a@quangngai.gov.vn", forward_to=["a1980@gmail.com"], aliases=["a@outlook.com", "an@quangngai.gov.vn"]),
        account("thuyle1980@gmail.com", owner="QN-2"),                   # active, undeclarable: not imported
        account("cu@quangngai.edu.vn", owner="QN-3", disabled=True),     # disabled: declared as legacy
    ], domains=DOMAINS, public_mail_domains=PUBLIC)
    assert any("a@quangngai.gov.vn: forward a1980@gmail.com is at a public mail provider (gmail.com)" in line
               for line in result.left_out)
    assert any("a@quangngai.gov.vn: alias a@outlook.com" in line for line in result.left_out)
    (line,) = result.not_imported
    assert line.startswith("thuyle1980@gmail.com (Sở Tài chính): active, at a public mail provider")
    assert "legacy: true and status: disabled" in line
    data = parse(result.files["so-tai-chinh"], "x").data
    first, legacy = data["mailboxes"]
    assert "forward_to" not in first and first["aliases"] == ["an@quangngai.gov.vn"]
    assert legacy == {"address": "cu@quangngai.edu.vn", "name": "Nguyễn Văn An", "kind": "personal",
                      "owner": {"id": "QN-3", "name": "Nguyễn Văn An"}, "status": "disabled", "legacy": True}
    # What import writes passes the policy checks.
    (tmp_path / "so-tai-chinh.yaml").write_text(result.files["so-tai-chinh"], encoding="utf-8")
    loaded = desired.load_directory(tmp_path)
    assert loaded.problems == []
    ctx = policy.PolicyContext(DOMAINS, PUBLIC, datetime(2026, 11, 28).date())
    assert policy.check(loaded.desired, ctx) == []


def test_missing_data_is_written_empty_and_listed():
    result = build([account("a@quangngai.gov.vn", owner=None, kind="Staff")], domains=DOMAINS,
                   public_mail_domains=PUBLIC)
    assert result.to_fill == ["so-tai-chinh.yaml: a@quangngai.gov.vn: kind (personal or functional; the directory "
                              "says 'Staff')", "so-tai-chinh.yaml: a@quangngai.gov.vn: owner (the owner's staff id)"]
    assert '    kind: ""  # TODO: personal or functional' in result.files["so-tai-chinh"]
