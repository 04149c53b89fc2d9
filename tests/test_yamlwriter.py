"""The one YAML writer: whatever it writes, the unit-file reader gives back the same values."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.declarations import yamlsource, yamlwriter

#: values YAML 1.1 would turn into another type or another structure when written plain
TRICKY = ["000123", "0123", "083", "0x1F", "1_000", "1e3", ".inf", "-.5", "12:30", "yes", "No", "ON", "off",
          "y", "n", "true", "False", "null", "Null", "~", "", " ", "2027-06-30", "2001-12-14t21:59:43.10-05:00",
          " leading", "trailing ", "a: b", "a #b", "#tag", "&anchor", "*alias", "!tag", "- dash", "? key",
          "[x]", "{x}", "a,b", "'q'", '"d"', "%dir", "@at", "`tick", "|", ">", "=", "<<", "---", "...",
          "back\\slash", "\ufeff", "Nguyễn Văn An", "Sở Tài chính", "123/QĐ-STTTT", "QN-000123",
          "annv@quangngai.gov.vn", "😀"]


#: values no unit file may hold (control characters): written faithfully, refused by the reader in one line
CONTROL = ["line\nbreak", "tab\there", "\x85", "\u2028", "\x7f", "\x00"]
#: text a field may hold: no control character (C0, DEL, C1, line and paragraph separators)
_TEXT = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))


def _round_trip(value: object) -> object:
    text = yamlwriter.document({"k": value, "m": {"id": value, "name": value}, "l": [value, value]})
    data = yamlsource.parse(text, "t.yaml").data
    assert isinstance(data, dict)
    assert data["m"] == {"id": data["k"], "name": data["k"]} and data["l"] == [data["k"], data["k"]]
    # Other readers (PyYAML's own constructor, as an editor or a script would use) agree.
    assert yaml.safe_load(text)["k"] == value
    return data["k"]


def test_values_that_yaml_would_retype_are_quoted():
    for value in TRICKY:
        assert _round_trip(value) == value, value


@pytest.mark.parametrize("value", CONTROL)
def test_control_characters_are_written_faithfully_and_refused_on_reading(value):
    text = yamlwriter.document({"k": value})
    assert yaml.safe_load(text)["k"] == value
    with pytest.raises(yamlsource.InputError, match="control character"):
        yamlsource.parse(text, "t.yaml")
    assert yamlwriter.scalar("000123") == '"000123"'
    # Strings YAML 1.2 readers (editors, other languages) would take for numbers, though YAML 1.1 does not.
    for value in ["000789", "0o17", "+1", "1.", "1e5", "0x1f", ".NaN"]:
        assert yamlwriter.scalar(value) == f'"{value}"', value
    assert yamlwriter.scalar("yes") == '"yes"'
    assert yamlwriter.scalar("2027-06-30") == '"2027-06-30"'
    assert yamlwriter.scalar("Sở Tài chính") == "Sở Tài chính"  # Unicode as is, unquoted


def test_non_strings_keep_their_type():
    assert yamlwriter.scalar(date(2027, 6, 30)) == "2027-06-30"
    text = yamlwriter.document({"expires": date(2027, 6, 30), "legacy": True, "n": 3, "none": None})
    assert yaml.safe_load(text) == {"expires": date(2027, 6, 30), "legacy": True, "n": 3, "none": None}


@settings(max_examples=400)
@given(st.text(_TEXT))
def test_any_text_round_trips(value: str):
    assert _round_trip(value) == value


_KEY = st.text(_TEXT, min_size=1, max_size=12)
_LEAF = st.text(_TEXT, max_size=20) | st.booleans() | st.integers() | st.none()
_TREE = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEY, inner, max_size=3),
                     max_leaves=12)


@settings(max_examples=200)
@given(st.dictionaries(_KEY, _TREE, min_size=1, max_size=4))
def test_any_document_round_trips(data: dict):
    assert yamlsource.parse(yamlwriter.document(data), "t.yaml").data == data


def test_comments_land_on_the_named_field():
    text = yamlwriter.document({"mailboxes": [{"address": "a@x.vn", "kind": ""}]},
                               header=["Imported"], comments={("mailboxes", 0, "kind"): "TODO: personal or functional"})
    assert text.splitlines() == ["# Imported", "mailboxes:", "  - address: a@x.vn",
                                 '    kind: ""  # TODO: personal or functional']


NEW = [{"address": "b@x.vn", "owner": {"id": "000123", "name": "Lê Bình"}}]


@pytest.mark.parametrize("text", [
    "# keep me\nunit: {id: u, name: U}\nmailboxes:\n  - address: a@x.vn   # a comment\n    owner: {id: Q, name: A}\n",
    "unit: {id: u, name: U}\nmailboxes:\n- address: a@x.vn\n  owner: {id: Q, name: A}\n\n\n",
    "unit: {id: u, name: U}\nmailboxes: []\n",
    "unit: {id: u, name: U}\nmailboxes:\n",
])
def test_items_are_appended_leaving_the_rest_of_the_file_as_it_was(text):
    before = yamlsource.parse(text, "t.yaml").data
    after_text = yamlwriter.append_items(text, "mailboxes", NEW, comments={("mailboxes", 1, "address"): "new"})
    assert after_text is not None and after_text.startswith(text.split("mailboxes:")[0])
    after = yamlsource.parse(after_text, "t.yaml").data
    assert after["unit"] == before["unit"]
    assert after["mailboxes"] == (before["mailboxes"] or []) + NEW
    if before["mailboxes"]:
        assert ("  # new" in after_text and "# a comment" in after_text) or "comment" not in text


@pytest.mark.parametrize("text", ["mailboxes:\n  - {address: a@x.vn}\nunit: {id: u, name: U}\n",
                                  "unit: {id: u, name: U}\nmailboxes: [{address: a@x.vn}]\n"])
def test_items_are_not_appended_where_that_is_not_safe(text):
    assert yamlwriter.append_items(text, "mailboxes", NEW) is None
