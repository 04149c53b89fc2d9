"""The shortcuts behind issue #14's figures keep the results they shortcut (speed itself is measured by
bench/plan_apply_speed.py, never by a timed test)."""

from __future__ import annotations

import errno
import gc
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from support.units import people, unit_file

from reconciler import settings as settings_file
from reconciler.audit.gitrepo import GitRepo
from reconciler.audit.provenance import Source
from reconciler.declarations import desired as desired_files
from reconciler.directory import ldiffile
from reconciler.directory.base import DirectoryError, Entry
from reconciler.directory.ldiffile import LdifDirectory
from reconciler.directory.profiles import openldap as profile
from reconciler.plan import apply as reconcile

TODAY = date(2026, 6, 1)
NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
BASE_DN = "ou=mailboxes,dc=quangngai,dc=gov,dc=vn"


# -- validate --base / plan --base: unchanged unit files are not parsed again --------------------------


def test_base_reuses_unchanged_files_and_parses_changed_ones(repo):
    repo.write("so-tttt.yaml", unit_file(people(2)))
    repo.write("so-yte.yaml", unit_file([{"address": "yte@quangngai.gov.vn"}], unit_id="so-yte"))
    base = repo.commit()
    repo.write("so-tttt.yaml", unit_file(people(2, name="Lê Văn Mới")))  # changed in the work tree only
    head = desired_files.load_directory(repo.root / "mailboxes", repo.root).desired
    git_repo = GitRepo(repo.root)

    reused = git_repo.desired_at(git_repo.commit(base), "mailboxes", reuse=head)
    parsed = git_repo.desired_at(git_repo.commit(base), "mailboxes")

    assert reused == parsed  # the same declarations as parsing every file of the base
    by_file = {unit.file: unit for unit in reused.units}
    head_by_file = {unit.file: unit for unit in head.units}
    assert by_file["mailboxes/so-yte.yaml"] is head_by_file["mailboxes/so-yte.yaml"]  # not parsed again
    assert by_file["mailboxes/so-tttt.yaml"] is not head_by_file["mailboxes/so-tttt.yaml"]
    assert {m.name for m in by_file["mailboxes/so-tttt.yaml"].mailboxes} == {"Nguyễn Văn An"}  # the base's
    changed = git_repo.desired_at(git_repo.commit(base), "mailboxes", reuse=head, changed_only=True)
    assert changed.units == (by_file["mailboxes/so-tttt.yaml"],)


def test_validate_base_still_finds_a_deletion_in_a_changed_file(repo, run_cli):
    repo.write("so-tttt.yaml", unit_file(people(2)))
    repo.write("so-yte.yaml", unit_file([{"address": "yte@quangngai.gov.vn"}], unit_id="so-yte"))
    base = repo.commit()
    repo.write("so-tttt.yaml", unit_file(people(1)))
    result = run_cli("validate", "--base", base, cwd=repo.root)
    assert result.exit_code == 1
    assert "user01@quangngai.gov.vn was deleted from the declarations" in result.output


# -- plan: the read overlaps validation, with the collector paused -------------------------------------


class RecordingDirectory:
    """A directory of two accounts whose search notes whether the cyclic GC ran while it was read."""

    base_dn = BASE_DN

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.gc_enabled_while_reading: list[bool] = []

    def describe(self) -> str:
        return "recording"

    def search(self, object_class: str, attributes: Sequence[str]) -> Iterator[Entry]:
        self.gc_enabled_while_reading.append(gc.isenabled())
        if self.fail:
            raise DirectoryError("recording: search failed: the server went away")
        for i in range(2):
            address = f"user{i:02d}@quangngai.gov.vn"
            yield Entry(f"uid=user{i:02d},{BASE_DN}", {
                "mail": [address], "cn": ["Nguyễn Văn An"], "displayname": ["Nguyễn Văn An"], "sn": ["Nguyễn"],
                "givenname": ["An"], "ou": ["Sở Thông tin và Truyền thông"], "employeenumber": [f"QN-user{i:02d}"],
                "employeetype": ["personal"], "objectclass": ["inetOrgPerson", "inetLocalMailRecipient"]})

    def read_marker(self, name: str) -> None:
        return None


def test_plan_reads_with_the_collector_paused_and_turns_it_back_on(repo):
    repo.write("so-tttt.yaml", unit_file(people(3)))
    directory = RecordingDirectory()
    assert gc.isenabled()
    computed = reconcile.compute(settings_file.load(repo.config), directory, TODAY)
    assert directory.gc_enabled_while_reading == [False]
    assert gc.isenabled()
    assert [c.address for c in computed.plan.changes] == ["user02@quangngai.gov.vn"]
    assert computed.plan.unchanged == 2


def test_invalid_declarations_are_reported_before_a_failed_read(repo):
    repo.write("so-tttt.yaml", unit_file(people(1)).replace("kind: personal", "kind: shared"))
    from reconciler.problems import InputError

    with pytest.raises(InputError):
        reconcile.compute(settings_file.load(repo.config), RecordingDirectory(fail=True), TODAY)
    repo.write("so-tttt.yaml", unit_file(people(1)))
    with pytest.raises(DirectoryError, match="the server went away"):
        reconcile.compute(settings_file.load(repo.config), RecordingDirectory(fail=True), TODAY)
    assert gc.isenabled()


# -- the embedded directory: one apply, one write of the file ------------------------------------------


def _ldif_setup(repo, count: int) -> tuple[settings_file.Settings, LdifDirectory]:
    settings = settings_file.load(repo.config)
    path = repo.root / "var" / "directory.ldif"
    directory = LdifDirectory(path, BASE_DN)
    repo.write("so-tttt.yaml", unit_file(people(count)))
    computed = reconcile.compute(settings, directory, TODAY)
    reconcile.execute(computed, settings, directory, Source(None, None, reviewed=False), now=NOW,
                      on_progress=lambda _o: None)
    directory.close()
    return settings, directory


def test_an_apply_writes_the_ldif_file_once(repo, monkeypatch):
    settings, directory = _ldif_setup(repo, 30)
    repo.write("so-tttt.yaml", unit_file(people(30, name="Lê Văn Mới")[:1] + people(30)[1:]))
    saves = []
    real_save = LdifDirectory._save
    monkeypatch.setattr(LdifDirectory, "_save", lambda self, entries: (saves.append(1), real_save(self, entries)))
    computed = reconcile.compute(settings, directory, TODAY)
    assert [c.action.value for c in computed.plan.changes] == ["update"]
    result, _record = reconcile.execute(computed, settings, directory, Source(None, "abc", reviewed=True), now=NOW,
                                        on_progress=lambda _o: None)
    assert result.failed == []
    assert len(saves) == 1  # the change and the apply marker together
    directory.close()
    fresh = LdifDirectory(directory.path, BASE_DN)
    marker = fresh.read_marker(reconcile.STATE_CN)
    assert marker is not None and marker.data["commit"] == "abc" and marker.data["changes"] == 1
    account = profile.accounts(fresh.search(profile.OBJECT_CLASS, profile.READ_ATTRIBUTES))["user00@quangngai.gov.vn"]
    assert account.fields["name"] == "Lê Văn Mới"


def test_an_apply_whose_single_write_fails_changes_nothing(repo, monkeypatch):
    settings, directory = _ldif_setup(repo, 2)
    repo.write("so-tttt.yaml", unit_file(people(3)))
    before = directory.path.read_bytes()
    computed = reconcile.compute(settings, directory, TODAY)

    def disk_full(_src: object, _dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ldiffile.os, "replace", disk_full)
    with pytest.raises(DirectoryError, match="No space left on device"):
        reconcile.execute(computed, settings, directory, Source(None, "abc", reviewed=True), now=NOW,
                          on_progress=lambda _o: None)
    assert directory.path.read_bytes() == before
    assert LdifDirectory(directory.path, BASE_DN).read_marker(reconcile.STATE_CN).data["changes"] == 2


# -- validate does not import what it does not use ------------------------------------------------------


def test_validate_imports_neither_git_nor_ldap_nor_rich(repo):
    repo.write("so-tttt.yaml", unit_file(people(2)))
    probe = ("import sys\nsys.argv = ['reconciler', 'validate']\nfrom reconciler.cli import main\n"
             "try:\n    main()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
             "print(sorted(m for m in ('git', 'ldap3', 'ldap', 'rich') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=repo.root, capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout
    assert "2 mailboxes: valid" in result.stdout
    assert Path(repo.root / "reconciler.yaml").exists()


# -- YAML: the loader that resolves tags with less Python gives PyYAML's tags ---------------------------


@pytest.mark.parametrize("value", ["", "abc", "yes", "No", "~", "null", "12", "-3", "0x1F", "1.5e3", ".inf", ".NaN",
                                   "2026-06-01", "2026-06-01T08:00:00Z", "<<", "=", "Nguyễn", "on", "off", "O",
                                   "+1", ".5", "TRUE", "n", "0o17", "1_000", "3:25:45"])
def test_the_fast_loader_resolves_every_scalar_as_pyyaml_does(value):
    import yaml
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    from reconciler.declarations import yamlsource

    ours, pyyaml = yamlsource._Loader(""), yaml.SafeLoader("")
    for implicit in ((True, False), (False, True), (False, False)):
        assert ours.resolve(ScalarNode, value, implicit) == pyyaml.resolve(ScalarNode, value, implicit)
    for kind in (SequenceNode, MappingNode):
        assert ours.resolve(kind, None, (False, False)) == pyyaml.resolve(kind, None, (False, False))


def test_a_problem_found_across_files_is_still_located_at_its_line(repo, run_cli):
    # Valid files' text is not kept through validation: it is read again to locate such a problem.
    repo.write("so-tttt.yaml", unit_file(people(3)))
    repo.write("so-yte.yaml", unit_file([{"address": "user02@quangngai.gov.vn"}], unit_id="so-yte"))
    result = run_cli("validate", cwd=repo.root)
    assert result.exit_code == 1
    assert ("mailboxes/so-yte.yaml:5:14: user02@quangngai.gov.vn: mailboxes[0].address: 'user02@quangngai.gov.vn' "
            "is already declared") \
        in result.output, result.output
