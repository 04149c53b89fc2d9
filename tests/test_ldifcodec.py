"""The LDIF codec of the embedded directory: round trips, RFC 2849 details, and slapcat exports."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.units import unit_file

from reconciler.directory import ldifcodec

# 'dn', 'changetype' and 'control' are LDIF's own words, never attribute types (dumps refuses them).
names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True).filter(
    lambda name: name.lower() not in ldifcodec.RESERVED_NAMES)
values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=120)


@given(st.lists(st.tuples(st.from_regex(r"uid=[a-z0-9.]{1,20},ou=m,dc=x", fullmatch=True),
                          st.dictionaries(names, st.lists(values, min_size=1, max_size=3), max_size=5)),
                max_size=5))
def test_round_trip_keeps_every_value(records):
    text = ldifcodec.dumps(records)
    assert list(ldifcodec.parse(text)) == [(dn, attrs) for dn, attrs in records]
    assert all(len(line) <= ldifcodec.FOLD_AT for line in text.splitlines())


def test_rfc_2849_details():
    text = (
        "version: 1\n"
        "# a comment\n"
        "dn: uid=annv,ou=mailboxes,dc=quangngai,dc=gov,dc=vn\n"
        "cn:: Tmd1eeG7hW4gVsSDbiBBbg==\n"
        "description: folded\n"
        "  across lines\n"
        "mail: annv@quangngai.gov.vn\n"
        "\n"
        "\n"
        "dn: uid=b,ou=mailboxes,dc=quangngai,dc=gov,dc=vn\n"
        "cn: B\n"
    )
    (_, first), (second_dn, second) = ldifcodec.parse(text)
    assert first == {"cn": ["Nguyễn Văn An"], "description": ["folded across lines"],
                     "mail": ["annv@quangngai.gov.vn"]}
    assert second_dn.startswith("uid=b,") and second == {"cn": ["B"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cn: no dn\n", "line 1: a record must start with 'dn:'"),
        ("dn: uid=a,dc=x\nthis is not ldif\n", "line 2: expected 'attribute: value'"),
        ("dn: uid=a,dc=x\ncn:: !!!\n", "line 2: cn: invalid base64"),
        ("dn: uid=a,dc=x\ncn:: QQ=\n", "line 2: cn: invalid base64"),
        ("dn: uid=a,dc=x\njpegPhoto:< file:///etc/passwd\n", "line 2: jpegPhoto: values read from URLs"),
        ("dn: uid=a,dc=x\nchangetype: delete\n", "line 2: change records are not supported"),
    ],
)
def test_bad_ldif_names_the_line(text, message):
    with pytest.raises(ldifcodec.LdifSyntaxError, match=message):
        list(ldifcodec.parse(text))


@pytest.mark.parametrize("name", ["dn", "DN", "changeType", "control"])
def test_ldif_words_are_never_written_as_attribute_names(name):
    with pytest.raises(ValueError, match=f"'{name}' is not an attribute name"):
        ldifcodec.dumps([("uid=a,ou=m,dc=x", {name: ["x"]})])


def test_values_that_need_base64_get_it():
    text = ldifcodec.dumps([("uid=a,dc=x", {"cn": [" leading space", "trailing ", ":colon", "<lt", "Ân"]})])
    assert text.count("cn:: ") == 5


def test_plan_reads_a_slapcat_export(repo, slapd, run_cli, tmp_path):
    """plan runs read-only against `slapcat` output of a real server: operational attributes and all."""
    env = {"RECONCILER_BIND_DN": slapd.admin_dn, "RECONCILER_BIND_PASSWORD": slapd.admin_password,
           "RECONCILER_LDAP_URL": slapd.url}
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn", "aliases": ["an@quangngai.gov.vn"]},
                                          {"address": "binhtt@quangngai.gov.vn", "status": "disabled",
                                           "name": "Trần Thị Bình"}]))
    repo.commit()
    assert run_cli("apply", "--yes", cwd=repo.root, env=env).exit_code == 0
    export = tmp_path / "export.ldif"
    # The fixture's configuration uses paths relative to its folder.
    dump = subprocess.run(["slapcat", "-F", "slapd.d", "-b", slapd.suffix], cwd=slapd.workdir,
                          check=True, capture_output=True, text=True).stdout
    assert "entryUUID" in dump and "pwdEndTime" in dump
    export.write_text(dump)
    before = export.read_bytes()
    repo.config.write_text(repo.config.read_text().replace("url: ldif:var/directory.ldif", f"url: ldif:{export}"))
    exported = run_cli("plan", "--format", "json", cwd=repo.root)
    assert exported.exit_code == 0, exported.output
    plan = json.loads(exported.stdout)
    assert plan["changes"] == [] and plan["summary"]["unchanged"] == 2
    assert export.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dn: not a dn\ncn: x\n", "line 1: 'not a dn' is not a distinguished name"),
        ("dn: uid=a,dc=x\ndn: uid=b,dc=x\n", "line 2: a second 'dn:' in one entry"),
    ],
)
def test_dn_problems(text, message):
    with pytest.raises(ldifcodec.LdifSyntaxError, match=message):
        list(ldifcodec.parse(text))


def test_escaped_comma_in_a_dn_is_fine():
    dn, _attrs = next(ldifcodec.parse("dn: cn=Lê\\, Văn,dc=x\ncn: a\n"))
    assert dn == "cn=Lê\\, Văn,dc=x"


def test_binary_values_survive_a_round_trip():
    photo = bytes(range(256))
    text = f"dn: uid=a,dc=x\njpegPhoto:: {base64.b64encode(photo).decode()}\n"
    ((dn, attrs),) = ldifcodec.parse(text)
    ((_, again),) = ldifcodec.parse(ldifcodec.dumps([(dn, attrs)]))
    assert again["jpegPhoto"][0].encode("utf-8", "surrogateescape") == photo
