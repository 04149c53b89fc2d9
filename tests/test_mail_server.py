"""The reference mail-server configuration (contrib/) against the real software: Dovecot and Postfix's postmap.

Entries are loaded straight into a throwaway slapd with ldapadd/ldapmodify, in the shape of the
``openldap`` profile (DESIGN.md, "Directory profiles"): one entry per mailbox, disabled = a past
``pwdEndTime``, removed = deleted. Dovecot runs contrib/dovecot/dovecot.conf and the lookups use the
contrib/postfix maps, rendered (tests/support/mailserver.py), so what is tested is what is deployed.

One slapd and one Dovecot serve the whole module (Dovecot takes about 1 s to stop); each test works on
mailboxes of its own. Every refused IMAP login costs about 0.5 s (Dovecot answers failures from a
timer that runs every 500 ms, even with auth_failure_delay = 0).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.mailserver import (
    CONTRIB,
    Dovecot,
    MailServerError,
    ServiceAccount,
    imap_login,
    postmap_query,
    render,
    render_postfix,
    service_account,
    start_dovecot,
)
from support.slapd import Slapd, start_slapd

DOMAIN = "quangngai.gov.vn"
MAILBOX = "virtual-mailbox-maps"
ALIAS = "virtual-alias-maps"
FORWARD = "virtual-forward-maps"


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = start_slapd(tmp_path_factory.mktemp("mail") / "slapd")
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


# --- Entries in the openldap profile's shape --------------------------------------------------------


def add_mailbox(
    slapd: Slapd,
    local: str,
    *,
    password: str | None = None,
    aliases: tuple[str, ...] = (),
    forward_to: str | None = None,
) -> str:
    """Add an active personal mailbox ``<local>@quangngai.gov.vn``; return its address."""
    address = f"{local}@{DOMAIN}"
    lines = [
        f"dn: {dn_of(slapd, local)}",
        "objectClass: top",
        "objectClass: person",
        "objectClass: organizationalPerson",
        "objectClass: inetOrgPerson",
        "objectClass: inetLocalMailRecipient",
        f"uid: {local}",
        f"mail: {address}",
        "cn: Nguyễn Văn An",
        "displayName: Nguyễn Văn An",
        "sn: Nguyễn",
        "givenName: An",
        "ou: so-tttt",
        "employeeNumber: QN-000123",
        "employeeType: personal",
        *(f"mailLocalAddress: {alias}" for alias in aliases),
        *([f"mailRoutingAddress: {forward_to}"] if forward_to else []),
        *([f"userPassword: {password}"] if password else []),
    ]
    slapd.ldapadd("\n".join(lines) + "\n")
    return address


def dn_of(slapd: Slapd, local: str) -> str:
    return f"uid={local},{slapd.mailbox_base}"


def modify(slapd: Slapd, local: str, *changes: str) -> None:
    """ldapmodify one entry; each change is e.g. ``"replace: userPassword\\nuserPassword: x"``."""
    slapd.ldapmodify(f"dn: {dn_of(slapd, local)}\nchangetype: modify\n" + "\n-\n".join(changes) + "\n")


def disable(slapd: Slapd, local: str) -> None:
    """As the profile disables: pwdEndTime = the time of disabling (a moment ago)."""
    when = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y%m%d%H%M%SZ")
    modify(slapd, local, f"add: pwdEndTime\npwdEndTime: {when}")


def enable(slapd: Slapd, local: str) -> None:
    modify(slapd, local, "delete: pwdEndTime")


def set_password_as_admin(slapd: Slapd, local: str, password: str) -> None:
    modify(slapd, local, f"replace: userPassword\nuserPassword: {password}")


def resolved(slapd: Slapd, address: str, aliases: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Every lookup Postfix makes for a mailbox: its address in all three maps, each alias in the first two."""
    found = {f"{name} {address}": postmap_query(slapd, name, address) for name in (MAILBOX, ALIAS, FORWARD)}
    for alias in aliases:
        found |= {f"{name} {alias}": postmap_query(slapd, name, alias) for name in (MAILBOX, ALIAS)}
    return found


def nothing_resolves(slapd: Slapd, address: str, aliases: tuple[str, ...] = ()) -> bool:
    return all(value is None for value in resolved(slapd, address, aliases).values())


def auth_log(dovecot: Dovecot, address: str) -> list[str]:
    """Dovecot's auth log lines about ``address`` (auth_verbose = yes in the reference config)."""
    return [line for line in dovecot.log().splitlines() if f"auth: Info: ldap({address}," in line]


# --- Active mailboxes -----------------------------------------------------------------------------------


def test_active_mailbox_logs_in_and_its_address_and_aliases_resolve(slapd: Slapd, dovecot: Dovecot) -> None:
    aliases = (f"an.nguyen@{DOMAIN}", f"nguyenvanan@{DOMAIN}")
    address = add_mailbox(slapd, "annv", password="Mat-khau-1", aliases=aliases)

    assert imap_login(dovecot, address, "Mat-khau-1")
    assert imap_login(dovecot, "AnNV@QuangNgai.gov.vn", "Mat-khau-1")  # auth_username_format = %Lu
    assert not imap_login(dovecot, address, "wrong")
    assert not imap_login(dovecot, aliases[0], "Mat-khau-1")  # aliases receive mail, they are no logins

    assert postmap_query(slapd, MAILBOX, address) == address
    assert postmap_query(slapd, MAILBOX, "ANNV@QUANGNGAI.GOV.VN") == address
    for alias in aliases:
        assert postmap_query(slapd, ALIAS, alias) == address
        assert postmap_query(slapd, ALIAS, alias.upper()) == address
        # smtpd accepts an alias because virtual_alias_maps knows it; cleanup then rewrites it.
        assert postmap_query(slapd, MAILBOX, alias) is None
    assert postmap_query(slapd, ALIAS, address) is None
    assert postmap_query(slapd, FORWARD, address) is None  # no forward_to


def test_forward_resolves_to_the_mailbox_and_the_target(slapd: Slapd) -> None:
    alias = f"binh.tran@{DOMAIN}"
    address = add_mailbox(slapd, "binhtt", aliases=(alias,), forward_to=f"binhtt@sotttt.{DOMAIN}")

    assert postmap_query(slapd, MAILBOX, address) == address
    forwarded = postmap_query(slapd, FORWARD, address)
    assert forwarded is not None
    assert sorted(forwarded.split(",")) == sorted([address, f"binhtt@sotttt.{DOMAIN}"])
    # Mail to the alias: rewritten to the address (first map), which then forwards (second map).
    assert postmap_query(slapd, ALIAS, alias) == address
    assert postmap_query(slapd, FORWARD, alias) is None


def test_unknown_and_foreign_addresses_are_not_found(slapd: Slapd, dovecot: Dovecot) -> None:
    add_mailbox(slapd, "chauln", password="pw-chau")
    for name in (MAILBOX, ALIAS, FORWARD):
        assert postmap_query(slapd, name, f"nobody.here@{DOMAIN}") is None
        assert postmap_query(slapd, name, "chauln@gmail.com") is None  # not our domain: not even looked up
        assert postmap_query(slapd, name, "chauln") is None
    assert not imap_login(dovecot, f"nobody.here@{DOMAIN}", "pw-chau")
    assert not imap_login(dovecot, "chauln", "pw-chau")  # the full address is the login name


# --- The lifecycle: disabled, password reset, enabled, removed -----------------------------------------


def test_disabled_mailbox_is_refused_even_after_a_password_reset_until_enabled(slapd: Slapd, dovecot: Dovecot) -> None:
    aliases = (f"dung.dang@{DOMAIN}",)
    address = add_mailbox(slapd, "dungdn", password="first-pw", aliases=aliases, forward_to="dungdn@hanoi.gov.vn")
    assert imap_login(dovecot, address, "first-pw")
    assert postmap_query(slapd, MAILBOX, address) == address
    assert postmap_query(slapd, ALIAS, aliases[0]) == address
    assert postmap_query(slapd, FORWARD, address) is not None

    disable(slapd, "dungdn")
    assert not imap_login(dovecot, address, "first-pw")
    # The pass_filter hides it: Dovecot does not even try the bind ("unknown user", not "password mismatch").
    assert "unknown user" in auth_log(dovecot, address)[-1]
    assert nothing_resolves(slapd, address, aliases)

    set_password_as_admin(slapd, "dungdn", "second-pw")
    assert not imap_login(dovecot, address, "second-pw")
    assert not slapd.can_bind(dn_of(slapd, "dungdn"), "second-pw")  # slapd itself refuses, too
    assert nothing_resolves(slapd, address, aliases)

    enable(slapd, "dungdn")
    assert imap_login(dovecot, address, "second-pw")
    assert not imap_login(dovecot, address, "first-pw")
    assert postmap_query(slapd, MAILBOX, address) == address
    assert postmap_query(slapd, ALIAS, aliases[0]) == address
    forwarded = postmap_query(slapd, FORWARD, address)
    assert forwarded is not None
    assert sorted(forwarded.split(",")) == sorted([address, "dungdn@hanoi.gov.vn"])


def test_removed_mailbox_is_unknown(slapd: Slapd, dovecot: Dovecot) -> None:
    aliases = (f"em.pham@{DOMAIN}",)
    address = add_mailbox(slapd, "empt", password="pw-em", aliases=aliases, forward_to="empt@hanoi.gov.vn")
    assert imap_login(dovecot, address, "pw-em")
    disable(slapd, "empt")
    assert not imap_login(dovecot, address, "pw-em")

    slapd.ldapmodify(f"dn: {dn_of(slapd, 'empt')}\nchangetype: delete\n")
    assert not imap_login(dovecot, address, "pw-em")
    assert "unknown user" in auth_log(dovecot, address)[-1]
    assert nothing_resolves(slapd, address, aliases)


def test_a_password_set_by_the_admin_logs_in_despite_pwd_reset(slapd: Slapd, dovecot: Dovecot) -> None:
    """What ``credentials issue`` must know: pwdReset does not keep anyone out of IMAP.

    The default policy has pwdMustChange TRUE, so ppolicy marks an administrator's password change
    with pwdReset: TRUE. slapd still accepts the simple bind (it only restricts further operations
    on that connection), and Dovecot's auth_bind does nothing after the bind: the login succeeds,
    the one-time password keeps working over IMAP for as long as it is not changed.
    """
    address = add_mailbox(slapd, "giangth")
    set_password_as_admin(slapd, "giangth", "one-time-pw")
    assert "pwdReset: TRUE" in slapd.ldapsearch(dn_of(slapd, "giangth"), attrs=["pwdReset"], scope="base")
    assert imap_login(dovecot, address, "one-time-pw")
    assert imap_login(dovecot, address, "one-time-pw")  # again: nothing was consumed


# --- The service account and the helpers ----------------------------------------------------------------


def test_rotating_the_service_account_password_keeps_lookups_working(slapd: Slapd, dovecot: Dovecot) -> None:
    """Under its own policy (pwdMustChange FALSE) an admin's password change sets no pwdReset on it."""
    address = add_mailbox(slapd, "hoalt", password="pw-hoa")
    account = service_account(slapd)
    slapd.ldapmodify(f"dn: {account.dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: {account.password}\n")
    assert "pwdReset" not in slapd.ldapsearch(account.dn, attrs=["pwdReset"], scope="base")
    assert imap_login(dovecot, address, "pw-hoa")
    assert postmap_query(slapd, MAILBOX, address) == address


def test_a_service_account_under_the_default_policy_breaks_when_the_admin_resets_it(
    slapd: Slapd, tmp_path: Path
) -> None:
    """Why contrib/README.md gives the service account a policy of its own.

    Under the default policy (pwdMustChange TRUE) the admin's password change sets pwdReset, and
    slapd then refuses the account's searches (result 50): Postfix would defer all mail, and
    Dovecot would answer every login with a temporary failure.
    """
    address = add_mailbox(slapd, "khanhvq")
    account = ServiceAccount(f"cn=plain-policy,ou=services,{slapd.suffix}", "service-pw")
    slapd.ldapadd(
        f"dn: {account.dn}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\n"
        f"cn: plain-policy\nuserPassword: {account.password}\n"
    )
    postfix = render_postfix(tmp_path / "postfix", slapd, account=account)
    assert postfix.query(MAILBOX, address) == address

    slapd.ldapmodify(f"dn: {account.dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: {account.password}\n")
    with pytest.raises(MailServerError, match="Insufficient access"):
        postfix.query(MAILBOX, address)


def test_postmap_errors_raise_instead_of_reading_as_not_found(slapd: Slapd, tmp_path: Path) -> None:
    account = service_account(slapd)
    postfix = render_postfix(tmp_path / "postfix", slapd, account=ServiceAccount(account.dn, "not-the-password"))
    with pytest.raises(MailServerError, match="Invalid credentials"):
        postfix.query(MAILBOX, f"annv@{DOMAIN}")
    with pytest.raises(ValueError, match="unknown map"):
        postfix.query("virtual_mailbox_maps", f"annv@{DOMAIN}")


def test_every_placeholder_is_documented_and_rendering_is_strict() -> None:
    placeholder = re.compile(r"@@([A-Z][A-Z0-9_]*)@@")
    files = sorted(path for path in CONTRIB.rglob("*") if path.is_file() and path.name != "README.md")
    used = {name for path in files for name in placeholder.findall(path.read_text(encoding="utf-8"))}
    documented = set(placeholder.findall((CONTRIB / "README.md").read_text(encoding="utf-8")))
    assert used, "no placeholders found in contrib/"
    assert used <= documented, f"placeholders missing from contrib/README.md: {sorted(used - documented)}"

    assert render("uris = @@LDAP_URI@@\n", {"LDAP_URI": "ldap://x/", "OTHER": "y"}) == "uris = ldap://x/\n"
    with pytest.raises(KeyError, match="BIND_PW"):
        render("dnpass = @@BIND_PW@@\n", {})
    with pytest.raises(ValueError, match="line break"):
        render("dnpass = @@BIND_PW@@\n", {"BIND_PW": "x\nauth_bind = no"})
