"""The whole product against the real software: the CLI, slapd, Dovecot (IMAP) and Postfix's postmap.

Declarations are committed to a git repository and applied with ``reconciler apply`` to a throwaway
slapd; ``reconciler credentials issue --print`` sets one-time passwords; Dovecot and the Postfix maps
run the reference configuration in contrib/ (tests/support/mailserver.py renders it), so what a user
sees here is what a deployment does: who can log in, which addresses receive mail.

One slapd and one Dovecot serve the module (Dovecot takes about 1 s to stop); each test declares
mailboxes of its own, so the other tests' entries are merely unmanaged accounts to it. Every refused
IMAP login costs about 0.5 s (Dovecot's failure timer).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support.backends import Backend, dn_of
from support.mailserver import Dovecot, imap_login, postmap_query, start_dovecot
from support.passwords import printed_password
from support.slapd import Slapd, start_slapd
from support.units import unit_file

from reconciler.directory.profiles.openldap import parse_generalized_time

DOMAIN = "quangngai.gov.vn"
MAILBOX = "virtual-mailbox-maps"
ALIAS = "virtual-alias-maps"
FORWARD = "virtual-forward-maps"
ADMIN_RESET = "Quan-tri-dat-lai-1"
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = start_slapd(tmp_path_factory.mktemp("e2e") / "slapd")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def dovecot(slapd: Slapd) -> Iterator[Dovecot]:
    server = start_dovecot(slapd.workdir.parent / "dovecot", slapd)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class World:
    """A reconciler repository in git, pointed at the module's slapd, and the mail servers reading it."""

    repo: Any
    backend: Backend
    slapd: Slapd
    dovecot: Dovecot
    run_cli: Any
    #: everything plan/apply/validate printed, as a CI job log would keep it
    ci_log: list[str] = field(default_factory=list)

    def cli(self, *args: str) -> Any:
        return self.run_cli(*args, cwd=self.backend.root, env=self.backend.env)

    def ci(self, *args: str, exit_code: int = 0) -> Any:
        """A CI step: its output goes to the job log."""
        result = self.cli(*args)
        self.ci_log.append(f"$ reconciler {' '.join(args)}\n{result.output}")
        assert result.exit_code == exit_code, result.output
        return result

    def declare(self, mailboxes: list[dict], message: str) -> None:
        """A merged pull request: the unit file committed on main, then CI's apply."""
        self.repo.write("so-tttt.yaml", unit_file(mailboxes))
        self.repo.commit(message)

    def apply(self, *extra: str) -> None:
        self.ci("apply", "--yes", *extra)

    def issue(self, address: str) -> tuple[str, datetime]:
        """``credentials issue --print``: the password, and the issue time its record in git keeps (to the
        second; the terminal shows it to the minute, in Vietnam time)."""
        result = self.cli("credentials", "issue", address, "--print")
        assert result.exit_code == 0, result.output
        assert "change it at first login" in result.stdout
        head = result.stdout.splitlines()[0]
        assert head.startswith(f"One-time password for {address} (issued ") and head.endswith(" +07:00):"), head
        records = [json.loads(line) for note in git_notes(self.repo.root) for line in note.splitlines() if line.strip()]
        issued = max(datetime.fromisoformat(r["issued_at"]) for r in records
                     if r.get("kind") == "credentials" and r["address"] == address)
        assert head.endswith(f"(issued {issued.astimezone(VIETNAM):%d/%m/%Y %H:%M} +07:00):"), head
        return printed_password(result.stdout), issued

    def refused(self, *args: str) -> str:
        """``credentials issue`` that must be refused: exit 1, nothing on stdout, one line on stderr."""
        result = self.cli("credentials", "issue", *args)
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        return line

    def entry(self, address: str) -> dict[str, list[str]] | None:
        return self.backend.entry(address)

    def login(self, address: str, password: str) -> bool:
        return imap_login(self.dovecot, address, password)

    def lookups(self, address: str, aliases: tuple[str, ...]) -> dict[str, str | None]:
        """What Postfix finds for the address (every map) and for each alias (mailbox and alias maps)."""
        found = {f"{name} {address}": postmap_query(self.slapd, name, address) for name in (MAILBOX, ALIAS, FORWARD)}
        for alias in aliases:
            found |= {f"{name} {alias}": postmap_query(self.slapd, name, alias) for name in (MAILBOX, ALIAS)}
        return found

    def resolves(self, address: str, aliases: tuple[str, ...]) -> bool:
        found = self.lookups(address, aliases)
        expected = {key: None for key in found}
        expected[f"{MAILBOX} {address}"] = address
        expected |= {f"{ALIAS} {alias}": address for alias in aliases}
        assert found == expected
        return True

    def unknown_to_postfix(self, address: str, aliases: tuple[str, ...]) -> bool:
        found = self.lookups(address, aliases)
        assert found == {key: None for key in found}
        return True

    def auth_log(self, address: str) -> list[str]:
        return [line for line in self.dovecot.log().splitlines() if f"auth: Info: ldap({address}," in line]

    def refused_as_unknown(self, address: str, password: str) -> bool:
        """The login is refused and Dovecot's auth log says why: the user is unknown (the filter hid it)."""
        seen = len(self.auth_log(address))
        assert not self.login(address, password)
        deadline = time.monotonic() + 10  # Dovecot's log process writes asynchronously
        while len(lines := self.auth_log(address)) <= seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(lines) > seen, "no auth log line for the refused login"
        assert "unknown user" in lines[-1], lines[-1]
        return True


@pytest.fixture
def world(repo, slapd: Slapd, dovecot: Dovecot, run_cli) -> World:
    backend = Backend("slapd", repo.root, slapd, {
        "RECONCILER_BIND_DN": slapd.admin_dn, "RECONCILER_BIND_PASSWORD": slapd.admin_password})
    backend.configure(repo.config)
    repo.commit("Settings")
    return World(repo, backend, slapd, dovecot, run_cli)


def seconds(text: str) -> datetime:
    return parse_generalized_time(text)


# --- The story: apply, issue, log in; disable; reset; enable; remove ----------------------------------


def test_lifecycle_from_declaration_to_login_and_mail(world: World) -> None:
    address = f"annv@{DOMAIN}"
    aliases = (f"an.nguyen@{DOMAIN}", f"nguyenvanan@{DOMAIN}")
    declared = {"address": address, "aliases": list(aliases)}

    world.declare([declared], "Create annv (ticket 123/QĐ-STTTT)")
    world.apply()
    assert "userpassword" not in world.entry(address)
    assert world.resolves(address, aliases)  # mail is accepted before anyone can log in

    started = datetime.now(UTC).replace(microsecond=0)
    password, issued_at = world.issue(address)
    finished = datetime.now(UTC)
    entry = world.entry(address)
    assert entry["pwdreset"] == ["TRUE"]  # the directory asks for a change at first use
    changed = seconds(entry["pwdchangedtime"][0])  # when, not what (both to the second)
    assert started <= changed <= issued_at <= finished
    assert entry["userpassword"][0].startswith("{SSHA}")  # slapd's ppolicy hashed it
    assert world.login(address, password)
    assert world.login(address.upper(), password)
    assert world.resolves(address, aliases)

    # Disabled in YAML and applied: no login, no mail, for the address and every alias.
    world.declare([{**declared, "status": "disabled"}], "Disable annv")
    world.apply()
    assert not world.login(address, password)
    assert world.unknown_to_postfix(address, aliases)
    # An administrator's password reset does not bring it back.
    world.slapd.ldapmodify(f"dn: {dn_of(address)}\nchangetype: modify\nreplace: userPassword\n"
                           f"userPassword: {ADMIN_RESET}\n")
    assert world.refused_as_unknown(address, ADMIN_RESET)  # filtered out: no bind is even tried
    assert world.unknown_to_postfix(address, aliases)
    assert world.refused(address, "--print").startswith(f"error: {address} is disabled (mailboxes/so-tttt.yaml")

    # Enabled again: the administrator's password works, and so does a newly issued one.
    world.declare([declared], "Enable annv")
    world.apply()
    assert world.login(address, ADMIN_RESET)
    assert world.resolves(address, aliases)
    second, _ = world.issue(address)
    assert second != password
    assert world.login(address, second)
    assert not world.login(address, ADMIN_RESET)

    # Removed: the plan disables first; the entry goes once the grace period (30 days) is over.
    world.declare([{**declared, "status": "removed"}], "Remove annv")
    world.apply()
    assert world.entry(address) is not None and "pwdendtime" in world.entry(address)
    assert not world.login(address, second)
    assert world.unknown_to_postfix(address, aliases)
    waiting = world.ci("plan", "--now", (datetime.now(UTC) + timedelta(days=20)).isoformat())
    assert "No changes." not in waiting.stdout  # a removal waits: the plan says so instead
    assert "Nothing to apply now. 1 removal waits for its due date" in waiting.stdout
    assert f"{address} Sở Thông tin và Truyền thông (so-tttt)  removal due on " in waiting.stdout
    world.apply("--now", (datetime.now(UTC) + timedelta(days=31)).isoformat())
    assert world.entry(address) is None
    assert world.refused_as_unknown(address, second)
    assert world.unknown_to_postfix(address, aliases)
    assert world.refused(address, "--print").startswith(f"error: {address} is removed (mailboxes/so-tttt.yaml")


# --- Refusals -------------------------------------------------------------------------------------------


def test_refusals_leave_every_password_as_it_was(world: World) -> None:
    active, alias = f"binhtt@{DOMAIN}", f"binh.tran@{DOMAIN}"
    disabled, removed, unmanaged, unknown = (f"{local}@{DOMAIN}" for local in ("chaulm", "dungpq", "old.tho",
                                                                                "khongco"))
    everyone = [{"address": active, "aliases": [alias]}, {"address": disabled}, {"address": removed}]
    world.declare(everyone, "Create three mailboxes")
    world.apply()
    passwords = {address: world.issue(address)[0] for address in (active, disabled, removed)}
    world.backend.add(dn_of(unmanaged), {
        "objectClass": ["inetOrgPerson", "inetLocalMailRecipient"], "uid": ["old.tho"], "mail": [unmanaged],
        "cn": ["Lê Văn Thọ"], "sn": ["Lê"], "userPassword": ["Mat-khau-cu-9"]})
    world.declare([everyone[0], {"address": disabled, "status": "disabled"}, {"address": removed, "status": "removed"}],
                  "Disable chaulm, remove dungpq")
    world.apply()  # both disabled now; the removal waits for its grace period

    def passwords_now() -> dict[str, tuple[list[str], list[str]]]:
        state = {}
        for address in (active, disabled, removed, unmanaged):
            entry = world.entry(address)
            assert entry is not None and entry.get("userpassword"), address
            state[address] = (entry["userpassword"], entry.get("pwdchangedtime", []))
        return state

    before = passwords_now()
    refusals = {
        (active,): "error: standard output is not a terminal: the password would end up in a log or a file; run "
                   "it on a terminal, or pass --print",
        (disabled, "--print"): f"error: {disabled} is disabled (mailboxes/so-tttt.yaml: status: disabled); set "
                               "status: active and apply before issuing credentials",
        (removed, "--print"): f"error: {removed} is removed (mailboxes/so-tttt.yaml: status: removed); it gets no "
                              "credentials",
        (unmanaged.upper(), "--print"): f"error: {unmanaged} is not managed: it is in the directory "
                                        f"({dn_of(unmanaged)}) but no unit file declares it; adopt it with "
                                        "`reconciler import` first",
        (unknown, "--print"): f"error: {unknown} is unknown: no unit file declares it and the directory has no "
                              "such account",
        (alias, "--print"): f"error: {alias} is an alias of {active}; issue credentials for {active}",
    }
    for args, expected in refusals.items():
        assert world.refused(*args) == expected
    assert passwords_now() == before
    assert world.login(active, passwords[active])  # still the one issued before the refusals


# --- The password is shown once and kept nowhere ---------------------------------------------------------


def test_the_password_is_in_no_log_record_note_or_file(
    world: World, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    address = f"giangth@{DOMAIN}"
    aliases = (f"giang.tran@{DOMAIN}",)
    world.declare([{"address": address, "aliases": list(aliases)}], "Create giangth")
    world.apply()
    issued = [world.issue(address)[0], world.issue(address)[0]]
    assert not world.login(address, issued[0])  # Dovecot logs the failure (auth_verbose = yes) ...
    assert world.login(address, issued[1])  # ... and the success

    # A day of CI after the password was issued: validate, plans in every format, applies with records.
    world.declare([{"address": address, "aliases": list(aliases), "name": "Trần Hương Giang"}], "Rename giangth")
    world.ci("validate")
    world.ci("plan")
    world.ci("plan", "--format", "markdown")
    saved = tmp_path / "plan.json"
    world.ci("plan", "--format", "json", "--out", str(saved))
    world.ci("apply", "--yes", "--plan", str(saved))
    world.declare([{"address": address, "status": "disabled"}], "Disable giangth")
    world.ci("plan", "--detailed-exitcode", exit_code=2)
    world.apply()
    world.ci("plan")

    def leaks(data: bytes) -> list[str]:
        forms = {f"{p} ({form})": encoded for p in issued
                 for form, encoded in (("clear", p.encode()), ("base64", base64.b64encode(p.encode())))}
        return [name for name, encoded in forms.items() if encoded in data]

    # The CI job log.
    assert not leaks("\n".join(world.ci_log).encode())
    assert "Applied: 1 update" in "\n".join(world.ci_log)

    # The apply records: git notes on the applied commits, and the record in the directory.
    root = world.backend.root
    notes = git_notes(root)
    assert notes, "apply left no record in git notes (refs/notes/reconciler)"
    assert not leaks("\n".join(notes).encode())
    marker = world.slapd.ldapsearch(world.slapd.mailbox_base, "(cn=reconciler-*)", scope="one")
    assert "applied_at" in marker and not leaks(marker.encode())

    # Every git object (commits, trees, blobs, notes) uncompressed, and every file of the repository.
    objects = subprocess.run(["git", "-C", str(root), "cat-file", "--batch-all-objects", "--batch"],
                             capture_output=True, check=True).stdout
    assert objects and not leaks(objects)

    # Every file the run left: the repository, pytest's temporary folders (this test's, slapd's, Dovecot's
    # and its logs, the Postfix maps) and Dovecot's mail homes. slapd's database is checked apart.
    database: list[Path] = []
    searched = 0
    for top in (root, tmp_path_factory.getbasetemp(), world.dovecot.mail_home):
        for path in files_under(top):
            if path.suffix == ".mdb":
                database.append(path)
                continue
            searched += 1
            assert not leaks(path.read_bytes()), path
    assert searched > 20
    assert world.dovecot.log_path.stat().st_size > 0

    # slapd keeps the password hashed ({SSHA}, salted): not in clear in its database files either.
    ours = [path for path in database if world.slapd.workdir in path.parents]
    assert ours and all(not leaks(path.read_bytes()) for path in ours)
    assert world.entry(address)["userpassword"][0].startswith("{SSHA}")


def git_notes(root: Path) -> list[str]:
    """Every note under refs/notes/reconciler, via ``git notes list`` and ``git notes show``."""
    listing = subprocess.run(["git", "-C", str(root), "notes", "--ref=reconciler", "list"],
                             capture_output=True, text=True, check=False)
    notes = []
    for line in listing.stdout.splitlines():
        _note, commit = line.split()
        notes.append(subprocess.run(["git", "-C", str(root), "notes", "--ref=reconciler", "show", commit],
                                    capture_output=True, text=True, check=True).stdout)
    return notes


def files_under(top: Path) -> Iterator[Path]:
    for folder, _dirs, names in os.walk(top):
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path
