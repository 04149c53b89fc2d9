"""Fuzzing: generated unit files and settings never produce a traceback.

Each generated input is either valid, or every problem is one line naming the file (``file:line:col``
where the text has a place), and nothing but InputError escapes. Structure, Unicode, control
characters, and the special characters of DNs (``,+"\\<>;=#``) and search filters (``*()\\`` NUL)
are all drawn. Example counts stay modest so the suite stays fast.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import settings as settings_file
from reconciler.declarations.validation import validate
from reconciler.directory.profiles import openldap as profile
from reconciler.plan import diff as diffing
from reconciler.plan import render
from reconciler.problems import InputError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
SPECIAL = ',+"\\<>;=#*()\x00\n\r\t\x1b\x7f\x85\u2028 :-[]{}&!|>\'%@`'
TEXT = st.text(alphabet=st.one_of(st.sampled_from(SPECIAL), st.characters()), max_size=30)
NAMEISH = st.one_of(TEXT, st.sampled_from(["Nguyễn Văn An", "Trần Thị Bình", "Đặng Ngọc Dũng", "Sở TT&TT"]))
ADDRESS = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9._-]{0,12}@quangngai\.gov\.vn", fullmatch=True),
    TEXT.map(lambda t: f"{t}@quangngai.gov.vn"),
    TEXT,
)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT)
ANYTHING = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)


def maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """Usually the field as it should be, sometimes anything at all."""
    return st.one_of(strategy, strategy, strategy, ANYTHING)


MAILBOX = st.fixed_dictionaries(
    {"address": maybe(ADDRESS), "name": maybe(NAMEISH),
     "kind": maybe(st.sampled_from(["personal", "functional"])),
     "owner": maybe(st.fixed_dictionaries({"id": maybe(st.from_regex(r"QN-[0-9]{1,6}", fullmatch=True)),
                                           "name": maybe(NAMEISH)})),
     "status": maybe(st.sampled_from(["active", "disabled", "removed"]))},
    optional={"aliases": maybe(st.lists(ADDRESS, max_size=3)), "forward_to": maybe(st.lists(ADDRESS, max_size=2)),
              "expires": maybe(st.sampled_from(["2027-06-30", "2020-01-01", "2027-02-30", "soon"])),
              "ticket": maybe(TEXT), "password": TEXT},
)
UNIT = st.fixed_dictionaries({
    "unit": maybe(st.fixed_dictionaries({"id": maybe(st.just("so-tttt")), "name": maybe(NAMEISH)})),
    "mailboxes": maybe(st.lists(MAILBOX, max_size=4)),
})


def dump(data: object) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def check_one_line_problems(problems) -> None:
    for problem in problems:
        text = str(problem)
        assert "\n" not in text and "\r" not in text and not text.lstrip().startswith("::"), text
        assert problem.file


SETTINGS = settings_file.Settings(("quangngai.gov.vn",),
                                  settings_file.DirectorySettings("ldif:x", "ou=mailboxes,dc=quangngai,dc=gov,dc=vn"))


def validate_text(root: Path, raw: bytes) -> None:
    (root / "mailboxes").mkdir(parents=True, exist_ok=True)
    (root / "mailboxes" / "so-tttt.yaml").write_bytes(raw)
    result = validate(replace(SETTINGS, root=root), date(2026, 11, 28))
    check_one_line_problems(result.problems)
    if result.ok:
        # Valid declarations go on to the plan and the entries: nothing there may fail either.
        plan = diffing.diff(result.desired, {}, today=date(2026, 11, 28), grace_days=30)
        output = "\n".join(render.text_lines(plan)) + "\n" + render.markdown(plan)
        for line in output.split("\n"):
            assert not line.lstrip().startswith("::") and "\x1b" not in line and "\r" not in line, line
        for mailbox in result.desired.mailboxes():
            profile.entry_for(mailbox, SETTINGS.directory.base_dn, now=datetime(2026, 1, 1, tzinfo=UTC))


@FUZZ
@given(UNIT)
def test_generated_unit_files_never_crash(tmp_path_factory, data):
    validate_text(tmp_path_factory.mktemp("fuzz"), dump(data).encode("utf-8"))


@FUZZ
@given(UNIT, st.data())
def test_damaged_unit_files_never_crash(tmp_path_factory, data, draw):
    raw = bytearray(dump(data).encode("utf-8"))
    for _ in range(draw.draw(st.integers(1, 4))):
        position = draw.draw(st.integers(0, len(raw)))
        inserted = draw.draw(st.one_of(st.binary(min_size=1, max_size=3), st.sampled_from(
            [b"&a ", b"*a", b"\t", b"---\n", b": ", b"- ", b"\xef\xbb\xbf", b"!!python/object ", b"[", b"{",
             b'"\\x1b"'])))
        raw[position:position] = inserted
    validate_text(tmp_path_factory.mktemp("fuzz"), bytes(raw))


SETTINGS_DATA = st.fixed_dictionaries(
    {"domains": maybe(st.lists(st.one_of(st.just("quangngai.gov.vn"), TEXT), min_size=1, max_size=2)),
     "directory": maybe(st.fixed_dictionaries(
         {"url": maybe(st.one_of(st.just("ldif:var/d.ldif"), TEXT.map(lambda t: f"ldap://{t}"))),
          "base_dn": maybe(st.one_of(st.just("ou=mailboxes,dc=quangngai,dc=gov,dc=vn"), TEXT))},
         optional={"timeout_seconds": maybe(st.floats()), "page_size": maybe(st.integers()),
                   "ca_file": maybe(TEXT)}))},
    optional={"mailboxes_dir": maybe(st.one_of(st.just("mailboxes"), TEXT)),
              "policy": maybe(st.fixed_dictionaries({}, optional={
                  "removal_grace_days": maybe(st.integers()), "max_disable_fraction": maybe(st.floats()),
                  "max_update_fraction": maybe(st.floats()), "threshold_window_days": maybe(st.integers()),
                  "threshold_min_existing": maybe(st.integers()), "public_mail_domains": maybe(st.lists(TEXT))})),
              "apply": maybe(st.fixed_dictionaries({"branch": maybe(TEXT)}))},
)


@FUZZ
@given(SETTINGS_DATA)
def test_generated_settings_never_crash(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("fuzz")
    path = root / "reconciler.yaml"
    path.write_text(dump(data), encoding="utf-8")
    try:
        loaded = settings_file.load(path)
    except InputError as err:
        check_one_line_problems(err.problems)
        assert all(p.file == str(path) for p in err.problems)
        return
    # What the schema lets through, the code can use.
    assert 0 < loaded.directory.timeout_seconds <= 3600 and 0 <= loaded.policy.removal_grace_days <= 3650
    assert 0 <= loaded.policy.max_disable_fraction <= 1 and 0 <= loaded.policy.max_update_fraction <= 1
    assert loaded.mailboxes_path.resolve().is_relative_to(root.resolve())
    validate(loaded, date(2026, 11, 28))


PAYLOAD = st.builds(lambda a, b, c: a + b + c, TEXT, st.sampled_from(
    ["\n::add-mask::x", "\r\n::error::y", "\x1b[31m", "\x00", "<script>x</script>", "| x |", "\u2028::warning::"]),
    TEXT)


@FUZZ
@given(st.lists(st.tuples(PAYLOAD, PAYLOAD), min_size=1, max_size=3), PAYLOAD)
def test_hostile_names_in_otherwise_valid_files_never_reach_output(tmp_path_factory, names, ticket):
    mailboxes = [{"address": f"user{i}@quangngai.gov.vn", "name": name, "kind": "personal",
                  "owner": {"id": f"QN-{i}", "name": owner}, "status": "active", "ticket": ticket}
                 for i, (name, owner) in enumerate(names)]
    validate_text(tmp_path_factory.mktemp("fuzz"),
                  dump({"unit": {"id": "so-tttt", "name": ticket}, "mailboxes": mailboxes}).encode("utf-8"))
