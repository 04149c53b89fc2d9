"""`reconciler credentials issue`: the password generator, who may get one, and the embedded LDIF directory.

The same command against a real slapd, Dovecot and Postfix is in tests/test_mail_end_to_end.py.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import pty
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest
from support.backends import BASE_DN, dn_of
from support.passwords import SHAPE, printed_password
from support.units import unit_file

from reconciler import credentials
from reconciler.credentials import ALPHABET, CredentialsRefused, generate_password, target
from reconciler.model import Account, Desired, Kind, Mailbox, Owner, SourceRef, Status, Unit

DOMAIN = "quangngai.gov.vn"
DOMAINS = (DOMAIN,)

# --- The password generator --------------------------------------------------------------------------


def test_alphabet_has_no_look_alikes() -> None:
    assert not set(ALPHABET) & set("0Oo1lI")
    assert len(set(ALPHABET)) == len(ALPHABET) == 56  # 8 digits, 24 capitals, 24 small letters
    assert set(ALPHABET) <= set("23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz")


def test_password_shape_length_and_classes() -> None:
    for _ in range(500):
        password = generate_password()
        assert len(password) == 23 >= 16
        assert SHAPE.match(password), password
        symbols = password.replace("-", "")
        assert set(symbols) <= set(ALPHABET)
        assert any(c.isdigit() for c in symbols) and any(c.isupper() for c in symbols)
        assert any(c.islower() for c in symbols)
    # About 116 bits: far beyond any online or offline guessing of a one-time password.
    assert 20 * math.log2(len(ALPHABET)) > 115


def test_passwords_are_random() -> None:
    draws = [generate_password() for _ in range(2000)]
    assert len(set(draws)) == len(draws)
    # Every symbol turns up, none far off its share (40,000 symbols, ~714 expected each, σ ≈ 27; the bounds are
    # over 6 σ wide: a failure means a broken generator, not bad luck).
    counts = Counter(c for p in draws for c in p.replace("-", ""))
    assert set(counts) == set(ALPHABET)
    expected = sum(counts.values()) / len(ALPHABET)
    assert all(0.75 * expected < n < 1.25 * expected for n in counts.values()), counts
    # No position is stuck: each of the 20 positions shows many different symbols.
    for position in range(23):
        if position % 6 == 5:
            assert {p[position] for p in draws} == {"-"}
        else:
            assert len({p[position] for p in draws}) > 40


def test_generator_uses_the_secrets_module(monkeypatch: pytest.MonkeyPatch) -> None:
    picks = iter("a2B" + "c" * 17)
    monkeypatch.setattr(credentials.secrets, "choice", lambda _seq: next(picks))
    assert generate_password() == "a2Bcc-ccccc-ccccc-ccccc"


def test_a_draw_without_every_class_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    picks = iter("a" * 20 + "Z" + "9" * 18 + "q")  # all small letters first: thrown away
    monkeypatch.setattr(credentials.secrets, "choice", lambda _seq: next(picks))
    assert generate_password() == "Z9999-99999-99999-9999q"


# --- Who may get a password (pure) -------------------------------------------------------------------


def mailbox(local: str, status: Status = Status.ACTIVE, aliases: tuple[str, ...] = ()) -> Mailbox:
    return Mailbox(f"{local}@{DOMAIN}", "Nguyễn Văn An", Kind.PERSONAL, Owner("QN-000123", "Nguyễn Văn An"), status,
                   "so-tttt", aliases=aliases, source=SourceRef("mailboxes/so-tttt.yaml", 0))


def account(local: str, disabled: bool = False, aliases: tuple[str, ...] = ()) -> Account:
    since = datetime(2026, 10, 2, 1, 0, tzinfo=UTC) if disabled else None
    return Account(f"{local}@{DOMAIN}", {"aliases": sorted(aliases)}, since, None, f"uid={local},{BASE_DN}")


def declared(*mailboxes: Mailbox) -> Desired:
    return Desired((Unit("so-tttt", "Sở TT&TT", "mailboxes/so-tttt.yaml", mailboxes),))


def live(*accounts: Account) -> dict[str, Account]:
    return {a.address.lower(): a for a in accounts}


def refusal(address: str, desired: Desired, accounts: dict[str, Account]) -> str:
    with pytest.raises(CredentialsRefused) as caught:
        target(address, desired, accounts, DOMAINS)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_an_active_managed_mailbox_is_the_target_in_any_case() -> None:
    desired = declared(mailbox("annv"))
    accounts = live(account("annv"))
    for spelling in ("annv@quangngai.gov.vn", "AnNV@QuangNgai.GOV.vn", "  annv@quangngai.gov.vn "):
        chosen = target(spelling, desired, accounts, DOMAINS)
        assert chosen.mailbox.address == "annv@quangngai.gov.vn"
        assert chosen.account.dn == f"uid=annv,{BASE_DN}"


@pytest.mark.parametrize(("desired", "accounts", "expected"), [
    pytest.param(declared(mailbox("annv", Status.DISABLED)), live(account("annv", disabled=True)),
                 "annv@quangngai.gov.vn is disabled (mailboxes/so-tttt.yaml: status: disabled); set status: active "
                 "and apply before issuing credentials", id="disabled"),
    pytest.param(declared(mailbox("annv", Status.DISABLED)), live(account("annv")),
                 "annv@quangngai.gov.vn is disabled (mailboxes/so-tttt.yaml: status: disabled)", id="disable-pending"),
    pytest.param(declared(mailbox("annv")), live(account("annv", disabled=True)),
                 "annv@quangngai.gov.vn is disabled in the directory (since 2026-10-02) although "
                 "mailboxes/so-tttt.yaml declares it active; run `reconciler apply` to enable it first",
                 id="enable-pending"),
    pytest.param(declared(mailbox("annv", Status.REMOVED)), live(),
                 "annv@quangngai.gov.vn is removed (mailboxes/so-tttt.yaml: status: removed); it gets no credentials",
                 id="removed"),
    pytest.param(declared(mailbox("annv", Status.REMOVED)), live(account("annv", disabled=True)),
                 "annv@quangngai.gov.vn is removed", id="removal-pending"),
    pytest.param(declared(mailbox("annv")), live(),
                 "annv@quangngai.gov.vn is declared active in mailboxes/so-tttt.yaml but is not in the directory yet; "
                 "run `reconciler apply` first", id="not-created-yet"),
    pytest.param(declared(), live(account("annv")),
                 f"annv@quangngai.gov.vn is not managed: it is in the directory (uid=annv,{BASE_DN}) but no unit "
                 "file declares it; adopt it with `reconciler import` first", id="unmanaged"),
    pytest.param(declared(mailbox("binhtt")), live(account("binhtt")),
                 "annv@quangngai.gov.vn is unknown: no unit file declares it and the directory has no such account",
                 id="unknown"),
])
def test_refusals(desired: Desired, accounts: dict[str, Account], expected: str) -> None:
    assert refusal("annv@quangngai.gov.vn", desired, accounts).startswith(expected)


def test_aliases_are_refused_naming_the_mailbox() -> None:
    desired = declared(mailbox("annv", aliases=("an.nguyen@quangngai.gov.vn",)))
    accounts = live(account("annv", aliases=("an.nguyen@quangngai.gov.vn",)),
                    account("old.account", aliases=("old@quangngai.gov.vn",)))
    assert refusal("An.Nguyen@quangngai.gov.vn", desired, accounts) == (
        "an.nguyen@quangngai.gov.vn is an alias of annv@quangngai.gov.vn; issue credentials for annv@quangngai.gov.vn")
    # An alias that only the directory knows (of an unmanaged account) is named the same way.
    assert refusal("old@quangngai.gov.vn", desired, accounts) == (
        "old@quangngai.gov.vn is an alias of old.account@quangngai.gov.vn; issue credentials for "
        "old.account@quangngai.gov.vn")


def test_not_an_address_and_foreign_domains() -> None:
    desired, accounts = declared(mailbox("annv")), live(account("annv"))
    assert refusal("annv", desired, accounts) == (
        "'annv' is not an e-mail address; give the full address, e.g. annv@quangngai.gov.vn")
    assert refusal("annv@gmail.com", desired, accounts) == (
        "annv@gmail.com is unknown: gmail.com is not a domain of this repository (quangngai.gov.vn)")


# --- Through the CLI, on the embedded LDIF directory --------------------------------------------------


@pytest.fixture
def cli(repo, run_cli):
    def run(*args: str):
        return run_cli(*args, cwd=repo.root)

    return run


@pytest.fixture
def declare(repo, cli):
    """Write the unit file, commit it (apply applies only committed declarations), apply it."""

    def run(mailboxes: list[dict]) -> None:
        repo.write("so-tttt.yaml", unit_file(mailboxes))
        repo.commit()
        applied = cli("apply", "--yes")
        assert applied.exit_code == 0, applied.output

    return run


def ssha_matches(stored: str, password: str) -> bool:
    assert stored.startswith("{SSHA}")
    raw = base64.b64decode(stored.removeprefix("{SSHA}"))
    digest, salt = raw[:20], raw[20:]
    return hashlib.sha1(password.encode() + salt).digest() == digest


def test_issue_on_the_ldif_directory(ldif, declare, cli) -> None:
    declare([{"address": "annv@quangngai.gov.vn", "aliases": ["an@quangngai.gov.vn"]}])
    before = datetime.now(UTC).replace(microsecond=0)
    result = cli("credentials", "issue", "AnNV@QuangNgai.gov.vn", "--print")
    assert result.exit_code == 0, result.output
    password = printed_password(result.stdout)
    assert result.stderr == ""

    first_line = result.stdout.splitlines()[0]
    match = re.fullmatch(r"One-time password for annv@quangngai\.gov\.vn \(issued (\S+ \S+ \+07:00)\):", first_line)
    assert match, first_line
    issued = datetime.strptime(match.group(1), "%d/%m/%Y %H:%M %z")  # shown in Vietnam time, to the minute
    assert before.replace(second=0) <= issued <= datetime.now(UTC)
    assert "change it at first login" in result.stdout
    assert "Nguyễn Văn An (QN-annv)" in result.stdout

    entry = ldif.entry("annv@quangngai.gov.vn")
    (stored,) = entry["userpassword"]
    assert ssha_matches(stored, password)
    assert entry["pwdreset"] == ["TRUE"]
    assert password not in ldif.ldif_path.read_text()

    # A second issue replaces the first password.
    again = cli("credentials", "issue", "annv@quangngai.gov.vn", "--print")
    assert again.exit_code == 0
    second = printed_password(again.stdout)
    assert second != password
    assert ssha_matches(ldif.entry("annv@quangngai.gov.vn")["userpassword"][0], second)
    # Nothing else changed: the directory still matches the declarations.
    assert "No changes." in cli("plan").stdout


def test_refusals_through_the_cli_change_nothing(ldif, declare, cli) -> None:
    declare([
        {"address": "annv@quangngai.gov.vn", "aliases": ["an@quangngai.gov.vn"]},
        {"address": "binhtt@quangngai.gov.vn", "status": "disabled"},
    ])
    ldif.add(dn_of("old.account@quangngai.gov.vn"), {
        "objectClass": ["inetOrgPerson"], "uid": ["old.account"], "mail": ["old.account@quangngai.gov.vn"],
        "cn": ["Old"], "sn": ["Old"], "userPassword": ["{SSHA}old"]})
    snapshot = ldif.ldif_path.read_bytes()
    cases = {
        ("annv@quangngai.gov.vn",): "standard output is not a terminal",  # CliRunner is no terminal
        ("binhtt@quangngai.gov.vn", "--print"): "binhtt@quangngai.gov.vn is disabled",
        ("old.account@quangngai.gov.vn", "--print"): "old.account@quangngai.gov.vn is not managed",
        ("nobody@quangngai.gov.vn", "--print"): "nobody@quangngai.gov.vn is unknown",
        ("an@quangngai.gov.vn", "--print"): "an@quangngai.gov.vn is an alias of annv@quangngai.gov.vn",
    }
    for args, expected in cases.items():
        result = cli("credentials", "issue", *args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"error: {expected}"), line
    assert ldif.ldif_path.read_bytes() == snapshot


def test_invalid_declarations_are_refused(repo, ldif, declare, cli) -> None:
    declare([{"address": "annv@quangngai.gov.vn"}])
    snapshot = ldif.ldif_path.read_bytes()
    repo.write("so-tttt.yaml", unit_file([{"address": "annv@quangngai.gov.vn"}, {"address": "x@gmail.com"}]))
    result = cli("credentials", "issue", "annv@quangngai.gov.vn", "--print")
    assert result.exit_code == 1
    assert "is at a public mail provider" in result.stderr and result.stdout == ""
    assert ldif.ldif_path.read_bytes() == snapshot


def test_a_failure_to_set_the_password_does_not_show_it(ldif, declare, cli, monkeypatch) -> None:
    from reconciler.directory.ldiffile import LdifDirectory

    declare([{"address": "annv@quangngai.gov.vn"}])
    seen: list[str] = []

    def broken(self, dn: str, password: str, *, must_change: bool) -> None:
        seen.append(password)
        raise OSError(f"disk full while writing {password}")

    monkeypatch.setattr(LdifDirectory, "set_password", broken)
    result = cli("credentials", "issue", "annv@quangngai.gov.vn", "--print")
    assert result.exit_code == 1
    (password,) = seen
    assert password not in result.output
    assert result.stderr == ("error: annv@quangngai.gov.vn: the password could not be set: disk full while writing "
                             "<the new password>\n")


# --- A real terminal, a real pipe ---------------------------------------------------------------------

RECONCILER = [sys.executable, "-c", "from reconciler.cli import main; main()"]


def test_a_terminal_gets_the_password_and_a_pipe_does_not(repo, ldif, declare) -> None:
    """The terminal check in a real process: stdout a pty (no --print needed), then a pipe (refused)."""
    declare([{"address": "annv@quangngai.gov.vn"}])
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    argv = [*RECONCILER, "credentials", "issue", "annv@quangngai.gov.vn"]

    piped = subprocess.run(argv, cwd=repo.root, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert piped.returncode == 1
    assert piped.stdout == ""
    assert piped.stderr == ("error: standard output is not a terminal: the password would end up in a log or a "
                            "file; run it on a terminal, or pass --print\n")
    assert "userpassword" not in ldif.entry("annv@quangngai.gov.vn")

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(argv, cwd=repo.root, env=env, stdin=terminal, stdout=terminal, stderr=terminal)
        os.close(terminal)
        output = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(timeout=60) == 0, output
    finally:
        os.close(controller)
    text = output.decode().replace("\r\n", "\n")
    password = printed_password(text)
    assert "change it at first login" in text
    assert ssha_matches(ldif.entry("annv@quangngai.gov.vn")["userpassword"][0], password)
