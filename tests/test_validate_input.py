"""Bad files are normal input: each gives one clear located line and exit 1, never a traceback."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reconciler.declarations import desired, schema, yamlsource
from reconciler.declarations.yamlsource import Document

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
         "mailboxes/so-tttt.yaml:9:13: annv@quangngai.gov.vn: mailboxes[0].status: 'enabled' is not allowed; "
         "use one of: active, "
         "disabled, removed"),
        ("    kind: personal", "    kind: shared",
         "mailboxes/so-tttt.yaml:7:11: annv@quangngai.gov.vn: mailboxes[0].kind: 'shared' is not allowed; "
         "use one of: personal, "
         "functional"),
        ("    status: active", "    status: active\n    password: Abc12345",
         "mailboxes/so-tttt.yaml:10:5: annv@quangngai.gov.vn: mailboxes[0].password: field 'password' looks like "
         "a secret: secrets "
         "never go in git"),
        ("    status: active", "    status: active\n    api_token: x",
         "mailboxes[0].api_token: field 'api_token' looks like a secret"),
        ("    status: active", "    status: active\n    colour: blue",
         "mailboxes/so-tttt.yaml:10:5: annv@quangngai.gov.vn: mailboxes[0].colour: unknown field 'colour'; allowed:"),
        ("    status: active", "    status: active\n    statu: active",
         "mailboxes[0].statu: unknown field 'statu'; did you mean 'status'? allowed:"),
        ("    owner: {id: QN-000123, name: Nguyễn Văn An}",
         "    owner: [{id: QN-000123, name: Nguyễn Văn An}, {id: QN-000124, name: Lê Thị Hoa}]",
         "mailboxes[0].owner: expected a mapping, found a list: a mailbox has exactly one owner"),
        ("    status: active", "    status: active\n    expires: 30/06/2027",
         "mailboxes[0].expires: '30/06/2027' is not a date; write YYYY-MM-DD"),
        ("    name: Nguyễn Văn An\n", "", "mailboxes/so-tttt.yaml:5:5: annv@quangngai.gov.vn: mailboxes[0]: "
         "missing required field 'name'"),
    ],
    ids=["status", "kind", "password", "token", "unknown-field", "did-you-mean", "shared-owner", "bad-date",
         "missing"],
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
                       "rule": "schema", "severity": "error", "mailbox": "annv@quangngai.gov.vn",
                       "message": problem["message"]}


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


# The fast schema path (issue #2): a predicate compiled from the schema says "certainly valid";
# every other document goes to jsonschema, which alone words the problems.

RICH = GOOD + """\
  - address: binhtt@quangngai.gov.vn
    name: Trần Thị Bình
    kind: functional
    owner: {id: QN-000124, name: Trần Thị Bình}
    status: disabled
    aliases: [binh.tran@quangngai.gov.vn, tranthibinh@quangngai.gov.vn]
    forward_to: [annv@quangngai.gov.vn]
    expires: 2027-06-30
    ticket: 123/QĐ-STTTT
"""

#: Values put in place of every value of RICH, one at a time: wrong types, edge strings, bad dates.
ODD_VALUES: list[object] = [
    None, 0, 1.5, True, "", "x", "so-tttt", "active", "functional", "Annv@Quangngai.gov.vn", "a b@c.vn", "@",
    "2027-02-31", "2027-06-30", "27-6-30", [], ["x"], ["a@b.vn"], ["a@b.vn", "c@d.vn"], ["a@b.vn", "a@b.vn"],
    [1, True], {}, {"id": "QN-1", "name": "A"}, {"id": ""}, {"id": "QN-1", "name": "A", "pin": "1"},
]


def _variants(node: object) -> Iterator[object]:
    """Every value that differs from ``node`` in one place: replaced, dropped, added or repeated."""
    yield from ODD_VALUES
    if isinstance(node, dict):
        for key, value in node.items():
            for changed in _variants(value):
                yield {**node, key: changed}
            yield {k: v for k, v in node.items() if k != key}
        yield {**node, "colour": "blue"}
        yield {**node, 1: "one"}
    elif isinstance(node, list):
        for i, item in enumerate(node):
            for changed in _variants(item):
                yield [*node[:i], changed, *node[i + 1:]]
        yield [*node, *node[:1]]


def _unit_doc(text: str) -> Document:
    return yamlsource.parse(text, "mailboxes/so-tttt.yaml")


def test_sample_declarations_take_the_fast_path():
    fast = schema.fast_check(schema.UNIT_SCHEMA)
    assert fast is not None, "unit.schema.json uses a keyword the fast path does not compile"
    samples = sorted((Path(__file__).resolve().parent.parent / "mailboxes").glob("*.yaml"))
    assert samples
    for path in samples:
        assert fast(yamlsource.load(path).data), path
    assert fast(_unit_doc(RICH).data)


def test_fast_path_accepts_only_what_jsonschema_accepts_and_reports_alike():
    fast = schema.fast_check(schema.UNIT_SCHEMA)
    assert fast is not None
    validator = Draft202012Validator(schema.load_schema(schema.UNIT_SCHEMA),
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    accepted = rejected = 0
    for variant in _variants(_unit_doc(RICH).data):
        errors = list(validator.iter_errors(variant))
        if fast(variant):
            assert not errors, (variant, [e.message for e in errors])
            accepted += 1
        else:
            rejected += 1
        doc = Document("mailboxes/so-tttt.yaml", variant, RICH)
        assert schema.check(doc, schema.UNIT_SCHEMA) == schema.check(doc, schema.UNIT_SCHEMA, fast=False)
    assert accepted > 50 and rejected > 500  # both answers were exercised


@pytest.mark.parametrize(
    ("replace", "by"),
    [
        ("    status: active", "    status: enabled"),
        ("    status: active", "    status: active\n    password: Abc12345"),
        ("    owner: {id: QN-000123, name: Nguyễn Văn An}", "    owner: [{id: QN-000123, name: Nguyễn Văn An}]"),
        ("    status: active", "    status: active\n    expires: 30/06/2027"),
        ("    status: active", "    status: active\n    expires: 2027-02-30"),
        ("    status: active", "    status: active\n    aliases: [a@quangngai.gov.vn, a@quangngai.gov.vn]"),
        ("    status: active", "    status: active\n    forward_to: [a@quangngai.gov.vn, b@quangngai.gov.vn]"),
        ("    status: active", "    status: active\n    ticket: ''"),
        ("    status: active", "    status: active\n    ticket: 123"),
        ("  id: so-tttt", "  id: Sở TTTT"),
        ("    name: Nguyễn Văn An\n", ""),
        ("annv@quangngai.gov.vn", "annv quangngai.gov.vn"),
    ],
)
def test_fast_and_slow_paths_report_alike_on_invalid_files(replace, by):
    doc = _unit_doc(GOOD.replace(replace, by))
    fast = schema.fast_check(schema.UNIT_SCHEMA)
    assert fast is not None and not fast(doc.data)
    problems = schema.check(doc, schema.UNIT_SCHEMA)
    assert problems and problems == schema.check(doc, schema.UNIT_SCHEMA, fast=False)


@pytest.mark.parametrize(
    ("keywords", "instances"),
    [
        ({"type": "string"}, ["a", "", 1, None, ["a"]]),
        ({"type": ["string", "null"]}, ["a", None, 1]),
        ({"type": "integer"}, [1, 1.5, True, "1"]),
        ({"type": "number"}, [1, 1.5, True, "1"]),
        ({"type": "boolean"}, [True, 0, "true"]),
        ({"type": "null"}, [None, 0, ""]),
        ({"enum": ["a", "b"]}, ["a", "c", None]),
        ({"minLength": 2, "maxLength": 3}, ["a", "ab", "abcd", 5]),
        ({"pattern": "^[a-z]+$"}, ["abc", "aBc", "", 5]),
        ({"format": "date"}, ["2027-06-30", "2027-02-30", "2027-6-30", 5]),
        ({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2, "uniqueItems": True},
         [["a"], [], ["a", "b", "c"], ["a", "a"], [1], "a"]),
        ({"uniqueItems": True}, [["a", "b"], ["a", "a"], "aa"]),
        ({"type": "object", "required": ["a"], "additionalProperties": False,
          "properties": {"a": {"type": "string"}, "b": {"$ref": "#/$defs/short"}}},
         [{"a": "x"}, {"a": "x", "b": "y"}, {"a": "x", "b": "yyy"}, {"b": "y"}, {"a": 1}, {"a": "x", "c": 1}, []]),
        ({"properties": {"a": {"type": "string"}}}, [{"a": "x", "z": 1}, {"a": 1}, "not an object"]),
        ({"$ref": "#/$defs/short", "minLength": 2}, ["ab", "a", "abc"]),
        ({"not": {"type": "string"}}, ["a", 1]),
    ],
)
def test_compiled_keywords_agree_with_jsonschema(keywords, instances):
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": {"short": {"type": "string", "maxLength": 2}}, **keywords}
    validator = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
    holds = schema.compile_fast_check(root, Draft202012Validator.FORMAT_CHECKER)
    for instance in instances:
        valid = validator.is_valid(instance)
        if holds is None:  # a keyword the compiler does not know: every document goes to jsonschema
            assert "not" in keywords
        else:
            assert holds(instance) is valid, instance


def test_compiled_check_may_be_stricter_than_jsonschema_never_looser():
    holds = schema.compile_fast_check({"type": "integer", "enum": [1, "a"]}, Draft202012Validator.FORMAT_CHECKER)
    assert holds is not None
    # jsonschema accepts 1.0 as an integer and 1 from the enum; the predicate is not certain: jsonschema decides.
    assert not holds(1.0) and not holds(1)


@pytest.mark.parametrize(
    "root",
    [
        {"type": "object", "minProperties": 1},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"properties": {"a": {"$id": "https://example.org/a", "type": "string"}}},
        {"$ref": "https://example.org/other.json"},
        {"$ref": "#/$defs/missing"},
        {"$defs": {"tree": {"type": "array", "items": {"$ref": "#/$defs/tree"}}}, "$ref": "#/$defs/tree"},
        {"items": [{"type": "string"}]},
        {"additionalProperties": 0},
        {"pattern": "(unclosed"},
    ],
    ids=["unknown-keyword", "additional-schema", "nested-id", "remote-ref", "missing-ref", "recursive-ref",
         "items-list", "additional-not-boolean", "bad-pattern"],
)
def test_schema_the_compiler_does_not_know_goes_to_jsonschema_alone(root):
    assert schema.compile_fast_check(root, Draft202012Validator.FORMAT_CHECKER) is None


def test_policy_problem_is_located_from_the_text_kept(repo, run_cli):
    repo.write("so-tttt.yaml", GOOD.replace("    status: active", "    status: active\n    expires: 2020-01-01"))
    result = run_cli("validate", cwd=repo.root)
    assert result.exit_code == 0  # an expired mailbox warns: the plan disables it
    (line, _summary) = problems_of(result)
    assert line.startswith("mailboxes/so-tttt.yaml:10:14: warning: annv@quangngai.gov.vn: mailboxes[0].expires: "
                           "expired on 01/01/2020")


def test_a_valid_document_keeps_no_node_tree():
    doc = _unit_doc(GOOD)
    assert "root" not in doc.__dict__  # composed again only to locate a problem
    assert doc.locate(("mailboxes", 0, "status")) == (9, 13)


def test_validate_leaves_the_garbage_collector_as_it_was(repo, run_cli):
    repo.write("so-tttt.yaml", GOOD)
    assert gc.isenabled()
    assert run_cli("validate", cwd=repo.root).exit_code == 0
    assert gc.isenabled()
    gc.disable()
    try:
        assert run_cli("validate", cwd=repo.root).exit_code == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), desired.cyclic_gc_paused():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()


def test_bad_settings_in_json_format_are_json(repo, run_cli):
    repo.write("so-tttt.yaml", GOOD)
    repo.config.write_text(repo.config.read_text().replace("domains: [quangngai", "domain: [quangngai"))
    result = run_cli("validate", "--format", "json", cwd=repo.root)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert {p["field"] for p in report["problems"]} == {"domain", ""}
    assert all(p["file"] == "reconciler.yaml" for p in report["problems"])


def test_cross_references_give_file_line_and_column(repo, run_cli):
    repo.write("so-tttt.yaml", GOOD)
    repo.write("so-noi-vu.yaml", GOOD.replace("so-tttt", "so-noi-vu").replace("QN-000123", "QN-000999"))
    result = run_cli("validate", cwd=repo.root)
    assert result.exit_code == 1
    assert ("mailboxes/so-tttt.yaml:5:14: annv@quangngai.gov.vn: mailboxes[0].address: 'annv@quangngai.gov.vn' is "
            "already declared at mailboxes/so-noi-vu.yaml:5:14") in result.stdout


def test_an_unknown_unit_gets_a_did_you_mean(repo, run_cli):
    repo.write("so-tttt.yaml", GOOD)
    result = run_cli("new", "Lê Thị Hoa", "--unit", "so-ttt", cwd=repo.root)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: unknown unit 'so-ttt'; did you mean 'so-tttt'? known units: so-tttt"
