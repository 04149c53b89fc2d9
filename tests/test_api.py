"""The Python API: reconciler.open(path) -> Project, the CLI's twin, returning plain objects."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from support.units import unit_file

import reconciler
from reconciler.declarations.validation import Validation
from reconciler.directory import profiles
from reconciler.plan.result import Planned
from reconciler.problems import InputError, ReconcilerError
from reconciler.project import Cancelled
from reconciler.settings import DirectorySettings, PolicySettings, Settings

README = Path(__file__).resolve().parent.parent / "README.md"
ANNV = "annv@quangngai.gov.vn"
BINHTT = "binhtt@quangngai.gov.vn"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Using it from Python"):]
    return re.search(r"```python\n(.*?)```", section, flags=re.DOTALL).group(1)


@pytest.fixture
def declared(repo):
    repo.write("so-tttt.yaml", unit_file([{"address": ANNV}, {"address": BINHTT, "status": "disabled"}]))
    repo.commit()
    return repo


def test_the_readme_example_runs(declared, monkeypatch, capsys):
    monkeypatch.chdir(declared.root)
    exec(compile(readme_example(), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "{'create': 2, 'update': 0" in printed
    assert f"create {ANNV}" in printed and f"create {BINHTT}" in printed
    assert "applied: {'create': 2} failed: []" in printed
    assert "mail: annv@quangngai.gov.vn" in (declared.root / "var" / "directory.ldif").read_text(encoding="utf-8")


def test_methods_return_objects_and_print_nothing(declared, capsys):
    project = reconciler.open(declared.root)
    validation = project.validate()
    planned = project.plan()
    assert isinstance(validation, Validation) and validation.ok and list(validation) == []
    assert isinstance(planned, Planned)
    assert [(c.action.value, c.address) for c in planned.changes] == [("create", ANNV), ("create", BINHTT)]
    assert planned.summary["create"] == 2 and planned.to_json()["checksum"] == planned.checksum
    assert json.dumps(planned.to_json(), ensure_ascii=False)  # plain data
    assert capsys.readouterr() == ("", "")


def test_validation_iterates_over_located_problems(repo):
    repo.write("so-tttt.yaml", unit_file([{"address": "Ánh@quangngai.gov.vn"}]))
    problems = list(reconciler.open(repo.root).validate())
    assert len(problems) == 1
    assert problems[0].file == "mailboxes/so-tttt.yaml" and problems[0].line == 5


def test_bad_settings_raise_input_error_with_located_problems(repo):
    repo.config.write_text("domains: [quangngai.gov.vn]\ndirectory: {url: ldif:x, base_dn: ou=m}\nbogus: 1\n",
                           encoding="utf-8")
    with pytest.raises(InputError) as caught:
        reconciler.open(repo.root)
    assert "bogus" in str(caught.value.problems[0])


def test_apply_refuses_a_plan_that_changed_since_it_was_computed(declared):
    project = reconciler.open(declared.root)
    planned = project.plan()
    declared.write("so-tttt.yaml", unit_file([{"address": ANNV}]))
    declared.commit()
    with pytest.raises(ReconcilerError, match="checksum differs"):
        project.apply(planned)
    assert not (declared.root / "var" / "directory.ldif").exists()


def test_confirm_sees_the_plan_and_may_refuse(declared):
    project = reconciler.open(declared.root)
    seen: list[int] = []

    def refuse(applied) -> bool:
        seen.append(len(applied.planned.changes))
        return False

    with pytest.raises(Cancelled, match="nothing was changed"):
        project.apply(confirm=refuse)
    assert seen == [2]
    assert project.plan().summary["create"] == 2


def test_a_dry_run_returns_the_plan_and_writes_nothing(declared):
    applied = reconciler.open(declared.root).apply(dry_run=True)
    assert applied.dry_run and applied.result is None and len(applied.planned.changes) == 2
    assert not (declared.root / "var" / "directory.ldif").exists()


def test_plan_with_a_base_marks_what_the_pull_request_asks(declared):
    project = reconciler.open(declared.root)
    project.apply()
    declared.git.git.checkout("-b", "pr")
    declared.write("so-tttt.yaml", unit_file([{"address": ANNV, "status": "disabled"},
                                              {"address": BINHTT, "status": "disabled"}]))
    declared.commit("Disable annv")
    planned = project.plan(base="main")
    assert [(c.action.value, c.address, c.origin) for c in planned.changes] == [("disable", ANNV, "change")]


def test_history_and_report_return_objects(declared):
    project = reconciler.open(declared.root)
    entries = project.history(ANNV)
    assert [e.change.after["status"] for e in entries] == ["active"]
    report = project.report()
    assert {m.address for m in report.desired.mailboxes()} == {ANNV, BINHTT}
    with pytest.raises(ReconcilerError, match="no commit declares"):
        project.history("nobody@quangngai.gov.vn")


def test_suggest_mailbox_is_the_twin_of_new(declared):
    suggestion = reconciler.open(declared.root).suggest_mailbox("Đặng Ngọc Dũng", "so-tttt")
    assert suggestion.address == "dungdn@quangngai.gov.vn"
    assert suggestion.missing == ("owner.id", "ticket")
    assert suggestion.file == "mailboxes/so-tttt.yaml"


def test_the_profile_comes_from_the_registry_by_name(declared, monkeypatch):
    asked: list[str] = []
    real = profiles.get

    def spy(name: str):
        asked.append(name)
        return real(name)

    monkeypatch.setattr(profiles, "get", spy)
    reconciler.open(declared.root).plan()
    assert asked and set(asked) == {"openldap"}
    with pytest.raises(ReconcilerError, match=r"unknown directory profile 'ad'.*known: openldap"):
        real("ad")


def test_settings_defaults_are_written_once(repo):
    """The schema documents defaults; the dataclasses hold them. They must agree."""
    schema = json.loads((Path(__file__).resolve().parent.parent / "schemas" / "settings.schema.json").read_text())
    documented = {
        DirectorySettings: schema["properties"]["directory"]["properties"],
        PolicySettings: schema["properties"]["policy"]["properties"],
        Settings: schema["properties"],
    }
    checked = 0
    for cls, properties in documented.items():
        defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
        for key, spec in properties.items():
            if "default" in spec:
                value = defaults[key]
                assert (list(value) if isinstance(value, tuple) else value) == spec["default"], (cls.__name__, key)
                checked += 1
    assert checked >= 6
    settings = reconciler.open(repo.root).settings  # a file that sets only some keys gets the rest as defaults
    assert settings.directory.page_size == DirectorySettings.__dataclass_fields__["page_size"].default
