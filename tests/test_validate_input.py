"""Bad files are normal input: each gives one clear located line and exit 1, never a traceback."""

from __future__ import annotations

import json

import pytest

GOOD = """\
unit:
  id: so-tttt
  name: Sở Thông tin và Truyền thông
mailboxes:
  - address: annv@quangngai.gov.vn
    name: Nguyễn Văn An
    kind: personal
    owner: {id: QN-000123, name: Nguyễn Văn An}
    status: active
"""


def problems_of(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if ": " in line]


def test_good_file_is_valid(repo, run_cli):
    repo.write("so-tttt.yaml", GOOD)
    result = run_cli("validate", cwd=repo.root)
    assert result.exit_code == 0, result.output
    assert "1 files, 1 mailboxes: valid" in result.stdout


def test_byte_order_mark_is_accepted(repo, run_cli):
    repo.write("so-tttt.yaml", b"\xef\xbb\xbf" + GOOD.encode())
    result = run_cli("validate", cwd=repo.root)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (GOOD.replace("    status: active", "    status: active\n    name: Trần Văn Bình"),
         "mailboxes/so-tttt.yaml:10:5: duplicate key 'name' (first at line 6)"),
        (GOOD.replace("    kind: personal", "\tkind: personal"),
         "mailboxes/so-tttt.yaml:7:1: tab character in indentation"),
        ("", "mailboxes/so-tttt.yaml:1:1: file is empty"),
        ("# only a comment\n", "mailboxes/so-tttt.yaml:1:1: file is empty"),
        ("- unit: so-tttt\n", "mailboxes/so-tttt.yaml:1:1: expected a mapping, found a list"),
        (GOOD.replace("unit:\n  id: so-tttt\n  name: Sở Thông tin và Truyền thông", "unit:\n  - so-tttt"),
         "mailboxes/so-tttt.yaml:2:3: unit: expected a mapping, found a list"),
        (GOOD + "---\nunit: {}\n", "more than one YAML document"),
        (GOOD.replace("unit:\n", "unit: [\n", 1), "mailboxes/so-tttt.yaml:"),
    ],
    ids=["duplicate-key", "tab", "empty", "comment-only", "list-at-root", "list-for-unit", "two-documents",
         "syntax"],
)
def test_bad_yaml_gives_one_located_line(repo, run_cli, content, expected):
    repo.write("so-tttt.yaml", content)
    result = run_cli("validate", cwd=repo.root)
    assert result.exit_code == 1
    lines = problems_of(result)
    assert len(lines) == 1, result.output
    assert expected in lines[0]
    assert "Traceback" not in result.output


def test_windows_1258_file_is_named_not_crashed(repo, run_cli):
    repo.write("so-tttt.yaml", GOOD.replace("Sở", "So").encode("cp1258", errors="replace"))
    result = run_cli("validate", cwd=repo.root)
    assert result.exit_code == 1
    (line,) = problems_of(result)
    assert line.startswith("mailboxes/so-tttt.yaml:3:")
    assert "not UTF-8" in line and "Windows-1258" in line


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("    status: active", "    status: enabled",
         "mailboxes/so-tttt.yaml:9:13: mailboxes[0].status: 'enabled' is not allowed; use one of: active, "
         "disabled, removed"),
        ("    kind: personal", "    kind: shared",
         "mailboxes/so-tttt.yaml:7:11: mailboxes[0].kind: 'shared' is not allowed; use one of: personal, "
         "functional"),
        ("    status: active", "    status: active\n    password: Abc12345",
         "mailboxes/so-tttt.yaml:10:5: mailboxes[0].password: field 'password' looks like a secret: secrets "
         "never go in git"),
        ("    status: active", "    status: active\n    api_token: x",
         "mailboxes[0].api_token: field 'api_token' looks like a secret"),
        ("    status: active", "    status: active\n    colour: blue",
         "mailboxes/so-tttt.yaml:10:5: mailboxes[0].colour: unknown field 'colour'; allowed:"),
        ("    owner: {id: QN-000123, name: Nguyễn Văn An}",
         "    owner: [{id: QN-000123, name: Nguyễn Văn An}, {id: QN-000124, name: Lê Thị Hoa}]",
         "mailboxes[0].owner: expected a mapping, found a list: a mailbox has exactly one owner"),
        ("    status: active", "    status: active\n    expires: 30/06/2027",
         "mailboxes[0].expires: '30/06/2027' is not a date; write YYYY-MM-DD"),
        ("    name: Nguyễn Văn An\n", "", "mailboxes/so-tttt.yaml:5:5: mailboxes[0]: missing required field 'name'"),
    ],
    ids=["status", "kind", "password", "token", "unknown-field", "shared-owner", "bad-date", "missing"],
)
def test_schema_problems_name_file_line_and_field(repo, run_cli, replace, by, expected):
    repo.write("so-tttt.yaml", GOOD.replace(replace, by))
    result = run_cli("validate", cwd=repo.root)
    assert result.exit_code == 1
    lines = problems_of(result)
    assert len(lines) == 1, result.output
    assert expected in lines[0]


def test_secret_in_settings_is_refused(repo, run_cli):
    repo.write("so-tttt.yaml", GOOD)
    repo.config.write_text(repo.config.read_text().replace("  base_dn:", "  bind_password: hunter2\n  base_dn:"))
    result = run_cli("validate", cwd=repo.root)
    assert result.exit_code == 1
    assert "reconciler.yaml:5:3: directory.bind_password: field 'bind_password' looks like a secret" in \
        result.stderr
    assert "hunter2" not in result.output


def test_all_files_are_checked_at_once(repo, run_cli):
    repo.write("so-tttt.yaml", GOOD.replace("status: active", "status: on"))
    repo.write("so-noi-vu.yaml", "")
    result = run_cli("validate", cwd=repo.root)
    assert result.exit_code == 1
    files = {line.split(":")[0] for line in problems_of(result)}
    assert files == {"mailboxes/so-tttt.yaml", "mailboxes/so-noi-vu.yaml"}


def test_json_format_is_stable(repo, run_cli):
    repo.write("so-tttt.yaml", GOOD.replace("status: active", "status: on"))
    result = run_cli("validate", "--format", "json", cwd=repo.root)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["format_version"] == 1 and report["valid"] is False
    (problem,) = report["problems"]
    assert problem == {"file": "mailboxes/so-tttt.yaml", "line": 9, "column": 13, "field": "mailboxes[0].status",
                       "rule": "schema", "message": problem["message"]}


def test_missing_settings_file_is_one_line(tmp_path, run_cli):
    result = run_cli("validate", cwd=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.strip() == "reconciler.yaml: settings file not found (run from the repository root or " \
        "give --config PATH)"


def test_bad_today_option(repo, run_cli):
    repo.write("so-tttt.yaml", GOOD)
    result = run_cli("validate", "--today", "tomorrow", cwd=repo.root)
    assert result.exit_code == 1
    assert "--today: 'tomorrow' is not a date" in result.stderr
