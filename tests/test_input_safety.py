"""Input that cannot hurt: each hostile file is one located line and exit 1, fast, and nothing a value
holds can break an output line, start a CI workflow command, or become markup."""

from __future__ import annotations

import os
import re
import resource
import time

import pytest
from support.units import unit_file

from reconciler import textfmt
from reconciler.audit.history import text_lines as history_lines
from reconciler.model import Action, Change, Plan
from reconciler.plan import render

GOOD = unit_file([{"address": "annv@quangngai.gov.vn"}])

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def one_problem(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if not line.endswith(("problem", "problems"))]
    assert len(lines) == 1, result.output
    return lines[0]


def test_billion_laughs_is_one_line_fast_and_small(repo, run_cli):
    assert len(BILLION_LAUGHS.encode()) < 600  # expands to 9**9 strings
    repo.write("so-tttt.yaml", BILLION_LAUGHS)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    line = one_problem(run_cli("validate", cwd=repo.root))
    assert time.perf_counter() - started < 5  # expanding it takes minutes and gigabytes
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB
    assert line == ("mailboxes/so-tttt.yaml:1:4: YAML anchors and aliases (&name, *name) are not allowed: write each "
                    "value out in full")


def test_anchors_are_refused_in_settings_too(repo, run_cli):
    repo.config.write_text(repo.config.read_text() + "apply: &x {branch: main}\n", encoding="utf-8")
    repo.write("so-tttt.yaml", GOOD)
    assert "reconciler.yaml:12:8: YAML anchors and aliases" in one_problem(run_cli("validate", cwd=repo.root))


def test_an_ampersand_in_a_name_is_no_anchor(repo, run_cli):
    repo.write("so-tttt.yaml", unit_file([{"address": "vanthu@quangngai.gov.vn", "name": "Văn thư Sở TT&TT *1",
                                           "kind": "personal"}]))
    result = run_cli("validate", cwd=repo.root)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("value", "named"), [
    ('"An\\x1b[31m"', "U+001B (ESC)"), ('"An\\0"', "U+0000 (NUL)"), ('"An\\n::add-mask::x"', "(line break)"),
    ('"An\\x85"', "U+0085"), ('"An\\x9b"', "U+009B"), ('"An\\x7f"', "U+007F (DEL)"), ('"An\\tB"', "(tab)"),
    ('"An\\u2028"', "U+2028"), ("|\n      An\n      ::error::x", "(line break)"),
])
def test_control_characters_in_a_field_are_one_located_line(repo, run_cli, value, named):
    repo.write("so-tttt.yaml", GOOD.replace("name: Nguyễn Văn An\n", f"name: {value}\n", 1))
    line = one_problem(run_cli("validate", cwd=repo.root))
    assert line.startswith("mailboxes/so-tttt.yaml:6:11: mailboxes[0].name: control character "), line
    assert named in line and "every field is one line of printable text" in line


@pytest.mark.parametrize("raw", [b"\x1b", b"\x07", b"\x7f", b"\xc2\x9b"])
def test_a_raw_control_byte_is_named_not_called_a_tab(repo, run_cli, raw):
    repo.write("so-tttt.yaml", GOOD.encode().replace("Nguyễn Văn An\n".encode(), b"An" + raw + b"\n", 1))
    line = one_problem(run_cli("validate", cwd=repo.root))
    assert line.startswith("mailboxes/so-tttt.yaml:6:13: control character U+00"), line
    assert "tab" not in line


def test_a_control_character_in_a_key_is_refused(repo, run_cli):
    repo.write("so-tttt.yaml", GOOD.replace("    status:", '    "st\\x1batus":', 1))
    assert "control character U+001B (ESC)" in one_problem(run_cli("validate", cwd=repo.root))


def test_symlinked_unit_file_is_refused(repo, run_cli, tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(GOOD, encoding="utf-8")
    os.symlink(outside, repo.root / "mailboxes" / "so-tttt.yaml")
    line = one_problem(run_cli("validate", cwd=repo.root))
    assert line.startswith("mailboxes/so-tttt.yaml:1:1: unit file is a symbolic link")


def test_dangling_symlink_is_refused_not_skipped(repo, run_cli):
    os.symlink("/nonexistent/x.yaml", repo.root / "mailboxes" / "so-tttt.yaml")
    assert "symbolic link" in one_problem(run_cli("validate", cwd=repo.root))


@pytest.mark.parametrize("folder", ["../elsewhere", "/etc", "mailboxes/../.."])
def test_mailboxes_dir_outside_the_repository_is_refused(repo, run_cli, folder):
    repo.config.write_text(repo.config.read_text().replace("mailboxes_dir: mailboxes",
                                                           f"mailboxes_dir: {folder}"), encoding="utf-8")
    line = one_problem(run_cli("validate", cwd=repo.root))
    assert line.startswith("reconciler.yaml:2:16: mailboxes_dir: ") and "inside the repository" in line


def test_mailboxes_dir_through_a_symlink_is_refused(repo, run_cli, tmp_path):
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", repo.root / "linked")
    repo.config.write_text(repo.config.read_text().replace("mailboxes_dir: mailboxes", "mailboxes_dir: linked"),
                           encoding="utf-8")
    assert "is a symbolic link" in one_problem(run_cli("validate", cwd=repo.root))


@pytest.mark.parametrize(("setting", "value", "expected"), [
    ("timeout_seconds", ".inf", "directory.timeout_seconds: '.inf' is not a finite number"),
    ("timeout_seconds", ".nan", "directory.timeout_seconds: '.nan' is not a finite number"),
    ("timeout_seconds", "100000.0", "directory.timeout_seconds: 100000.0 is out of range"),
    ("removal_grace_days", "99999999999999999999", "policy.removal_grace_days: 99999999999999999999 is out of "
                                                   "range: use a value at least 0 and at most 3650"),
    ("max_disable_fraction", "1.5", "policy.max_disable_fraction: 1.5 is out of range"),
    ("max_update_fraction", "-0.1", "policy.max_update_fraction: -0.1 is out of range"),
    ("threshold_window_days", "1000", "policy.threshold_window_days: 1000 is out of range"),
    ("page_size", "0", "directory.page_size: 0 is out of range"),
])
def test_settings_are_bounded_to_values_the_code_can_use(repo, run_cli, setting, value, expected):
    text = re.sub(rf"  {setting}: .*\n", "", repo.config.read_text())
    if setting in ("timeout_seconds", "page_size"):
        text = text.replace("  base_dn:", f"  {setting}: {value}\n  base_dn:")
    else:
        text = text.replace("policy:\n", f"policy:\n  {setting}: {value}\n")
    repo.config.write_text(text, encoding="utf-8")
    repo.write("so-tttt.yaml", GOOD)
    for command in ("validate", "plan"):
        line = one_problem(run_cli(command, cwd=repo.root))
        assert line.startswith("reconciler.yaml:") and expected in line, line
        assert "internal error" not in line


# -- output: one formatter, one escape per markup, no workflow command -------------------------------------

HOSTILE = "An\n::add-mask::secret <img src=x onerror=alert(1)> | [x](http://evil) @org/team `x` \x1b[2J"


def hostile_plan() -> Plan:
    return Plan((Change(Action.UPDATE, "annv@quangngai.gov.vn", "so-tttt", {"name": "An"}, {"name": HOSTILE}),
                 Change(Action.CREATE, "b`x@quangngai.gov.vn", "so|tttt", None,
                        {"name": HOSTILE, "kind": "personal", "status": "active", "owner": "QN-1"})),
                0, ("::warning::x@quangngai.gov.vn",))


def no_workflow_command(text: str) -> None:
    for line in text.splitlines():
        assert not line.lstrip().startswith("::"), line
    assert "\x1b" not in text


def test_plan_markdown_escapes_every_value():
    md = render.markdown(hostile_plan(), header=["::error::header"])
    no_workflow_command(md)
    assert "<img" not in md and "&lt;img src=x onerror=alert\\(1\\)&gt;" in md
    assert "\\[x\\]\\(http://evil\\)" in md and "&#64;org/team" in md and "\\`x\\`" in md
    assert "\\| \\[x\\]" in md  # the pipe cannot end the table cell
    assert "An\\\\n: :add-mask: :secret" not in md and "An\\\\n::add-mask::secret" in md  # shown, one line
    assert "so\\|tttt" in md and "`b`x" not in md
    assert md.count("\n| ") == md.count("\n|")  # every table row stays one line


def test_plan_text_lines_are_one_line_each_and_never_a_workflow_command():
    lines = render.text_lines(hostile_plan(), header=["::error::header"])
    for line in lines:
        assert "\n" not in line
    no_workflow_command("\n".join(lines))
    assert any("\\n::add-mask::secret" in line for line in lines)


def test_history_lines_show_values_on_one_line():
    from datetime import UTC, datetime

    from reconciler.audit.gitrepo import CommitInfo
    from reconciler.audit.history import HistoryEntry, MailboxChange

    info = CommitInfo("a" * 40, datetime(2026, 1, 1, tzinfo=UTC), "[bold]x", "e", "::error::subject", None)
    entry = HistoryEntry(info, None, MailboxChange("annv@x", {"name": "An", "aliases": []},
                                                   {"name": HOSTILE, "aliases": ["b@x", "c@x"]}))
    lines = history_lines([entry])
    no_workflow_command("\n".join(lines))
    assert any("aliases: (none) → b@x, c@x" in line for line in lines)
    assert any("\\[bold]x" in line for line in lines)


def test_value_formatter():
    from datetime import date

    assert textfmt.value(None) == "—" and textfmt.value([]) == "(none)" and textfmt.value(["a", "b"]) == "a, b"
    assert textfmt.value(None, none="") == "" and textfmt.value(["a", "b"], separator=" ") == "a b"
    assert textfmt.value(date(2026, 1, 2)) == "2026-01-02" and textfmt.value(Action.CREATE) == "create"
    assert textfmt.value("a\nb\x00c\u2028") == "a\\nb\\x00c\\u2028"
    assert textfmt.safe_line("  ::error::x") == "  : :error::x" and textfmt.safe_line("a ::b") == "a ::b"
    assert textfmt.markup("[red]x") == "\\[red]x"


def test_problem_lines_never_break_or_start_a_workflow_command():
    from reconciler.problems import Problem

    text = str(Problem("::error::mailboxes/a\nb.yaml", "x\r\n::add-mask::y", ("name",), 1, 2))
    assert "\n" not in text and "\r" not in text and not text.startswith("::")
