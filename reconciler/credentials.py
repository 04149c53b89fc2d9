"""One-time passwords: ``reconciler credentials issue ADDRESS``.

The password is random (:mod:`secrets`), drawn from an alphabet without look-alike characters, set
on the mailbox's directory entry with the must-change marker (``pwdReset: TRUE``), and handed back
to the caller to be shown once. It is never written anywhere else: no log, no file, no git note, no
apply record. When it was issued is what the directory keeps (ppolicy's ``pwdChangedTime``) and
what the command prints; what it was is known only to whoever saw it on the terminal.

Only an *active managed* mailbox gets one: declared with ``status: active`` in a unit file, present
in the directory and not disabled there. Everything else is refused with one line saying why.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reconciler.clock import Clock
from reconciler.directory.base import Directory
from reconciler.i18n import _
from reconciler.model import Account, Desired, Mailbox, Status
from reconciler.plan.apply import read_live_view, valid_desired
from reconciler.problems import ReconcilerError
from reconciler.settings import Settings

#: No 0/O/o, 1/l/I: what is read off a screen or a slip of paper is typed back right.
AMBIGUOUS = frozenset("0Oo1lI")
ALPHABET = "".join(c for c in string.digits + string.ascii_uppercase + string.ascii_lowercase if c not in AMBIGUOUS)
#: 4 groups of 5 symbols joined by "-": 23 characters, 20 random symbols of 56, about 116 bits.
GROUPS = 4
GROUP_SIZE = 5
SEPARATOR = "-"


class CredentialsRefused(ReconcilerError):
    """This address gets no credentials; the message says why and what to do."""


def generate_password(groups: int = GROUPS, group_size: int = GROUP_SIZE) -> str:
    """A random password like ``Kq7xR-m3TbZ-9hPwc-Ya4Ne``, with a digit, a capital and a small letter.

    Password-quality rules commonly ask for all three classes; a draw without one is thrown away.
    """
    while True:
        symbols = [secrets.choice(ALPHABET) for _ in range(groups * group_size)]
        if (any(c.isdigit() for c in symbols) and any(c.isupper() for c in symbols)
                and any(c.islower() for c in symbols)):
            return SEPARATOR.join("".join(symbols[i:i + group_size]) for i in range(0, len(symbols), group_size))


@dataclass(frozen=True, slots=True)
class Target:
    """The mailbox that may be given credentials, and its live entry."""

    mailbox: Mailbox
    account: Account


def target(address: str, desired: Desired, live: dict[str, Account], domains: tuple[str, ...]) -> Target:
    """The active managed mailbox ``address`` names (any case), or CredentialsRefused with one line."""
    key = address.strip().lower()
    if "@" not in key:
        example = f"{key}@{domains[0]}" if domains else f"{key}@example.org"
        raise CredentialsRefused(_("'{address}' is not an e-mail address; give the full address, "
                                   "e.g. {example}").format(
            address=address, example=example))
    declared = {m.address.lower(): m for m in desired.mailboxes()}
    mailbox = declared.get(key)
    account = live.get(key)
    if mailbox is None:
        owner = _alias_owner(key, declared, live)
        if owner is not None:
            raise CredentialsRefused(_("{address} is an alias of {owner}; issue credentials for {owner}").format(
                address=key, owner=owner))
        if account is not None:
            raise CredentialsRefused(_("{address} is not managed: it is in the directory ({dn}) but "
                                       "no unit file declares it; adopt it with `reconciler import` first").format(
                address=account.address, dn=account.dn))
        domain = key.rpartition("@")[2]
        if domains and domain not in domains:
            raise CredentialsRefused(_("{address} is unknown: {domain} is not a domain of this repository "
                                       "({domains})").format(address=key, domain=domain, domains=", ".join(domains)))
        raise CredentialsRefused(_("{address} is unknown: no unit file declares it and the directory has no such "
                                   "account").format(address=key))
    where = mailbox.source.file if mailbox.source else _("unit {unit}").format(unit=mailbox.unit)
    if mailbox.status is Status.REMOVED:
        raise CredentialsRefused(_("{address} is removed ({where}: status: removed); it gets no credentials").format(
            address=mailbox.address, where=where))
    if mailbox.status is Status.DISABLED:
        raise CredentialsRefused(_("{address} is disabled ({where}: status: disabled); set status: active "
                                   "and apply before issuing credentials").format(address=mailbox.address, where=where))
    if account is None:
        raise CredentialsRefused(_("{address} is declared active in {where} but is not in the directory yet; "
                                   "run `reconciler apply` first").format(address=mailbox.address, where=where))
    if account.disabled_since is not None:
        since = account.disabled_since.date().isoformat()
        raise CredentialsRefused(_("{address} is disabled in the directory (since {since}) although {where} "
                                   "declares it active; run `reconciler apply` to enable it first").format(
            address=mailbox.address, since=since, where=where))
    return Target(mailbox, account)


def _alias_owner(key: str, declared: dict[str, Mailbox], live: dict[str, Account]) -> str | None:
    for mailbox in declared.values():
        if key in (a.lower() for a in mailbox.aliases):
            return mailbox.address
    for account in live.values():
        aliases = account.fields.get("aliases") or []
        if isinstance(aliases, list) and key in (str(a).lower() for a in aliases):
            return account.address
    return None


@dataclass(frozen=True, slots=True)
class Issued:
    address: str
    owner_name: str
    owner_id: str
    issued_at: datetime
    password: str = field(repr=False)
    #: why the trace of this issue (never the password) did not reach the apply records, if it did not
    record_warning: str | None = None


def issue(settings: Settings, directory: Directory, address: str, *,
          clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Issued:
    """Check that ``address`` is an active managed mailbox, then set a new one-time password on it.

    Nothing is written when the address is refused. The time reported is read once the directory
    has taken the password, so it is not before the directory's own ``pwdChangedTime``.
    """
    validation = valid_desired(settings, settings.clock(clock()).today())
    chosen = target(address, validation.desired, read_live_view(directory, settings).accounts, settings.domains)
    password = generate_password()
    try:
        directory.set_password(chosen.account.dn, password, must_change=True)
    except Exception as err:  # the message of a failure must not carry the password
        message = str(err).replace(password, "<the new password>") or type(err).__name__
        raise ReconcilerError(_("{address}: the password could not be set: {error}").format(
            address=chosen.mailbox.address, error=message)) from None
    owner = chosen.mailbox.owner
    return Issued(chosen.mailbox.address, owner.name, owner.id, clock(), password)


def render(issued: Issued, clock: Clock | None = None) -> list[str]:
    """What the terminal shows, once."""
    when = (clock or Clock()).time_text(issued.issued_at)
    return [
        _("One-time password for {address} (issued {when}):").format(address=issued.address, when=when),
        "",
        f"    {issued.password}",
        "",
        _("Give it to {name} ({id}) in person; change it at first login.").format(name=issued.owner_name,
                                                                                 id=issued.owner_id),
        _("It is shown only this once and kept nowhere but in the directory, marked for change."),
    ]
