"""The review's findings, as pure functions over the declarations, the live accounts, the roster and
the mail log (rà soát: which mailboxes are no longer needed or are used against the rules).

Each finding names the mailbox (address, person, unit), carries its evidence as plain values and says
what to do about it (the proposal). Only ``disable`` proposals on declared mailboxes are written into a
proposal branch; every other proposal needs a person to decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from reconciler.clock import Clock, date_text
from reconciler.i18n import _
from reconciler.model import Account, Desired, Kind, Mailbox, Status
from reconciler.review.maillog import Delivery
from reconciler.review.roster import Roster

#: the sample log lines a social sign-up finding keeps as evidence
MAX_LOG_LINES = 3


class FindingKind(StrEnum):
    IDLE = "idle"
    NEVER_USED = "never_used"
    EXPIRED = "expired"
    EXPIRING = "expiring"
    DISABLED_PAST_GRACE = "disabled_past_grace"
    OWNER_NOT_ON_ROSTER = "owner_not_on_roster"
    OWNER_LEFT = "owner_left"
    OWNER_MOVED_UNIT = "owner_moved_unit"
    SOCIAL_SIGNUP = "social_signup"
    PUBLIC_FORWARD = "public_forward"


class Proposal(StrEnum):
    DISABLE = "disable"            # written into the proposal branch (status: disabled)
    REMOVE = "remove"              # tombstone it (status: removed): a person decides
    ASK_UNIT = "ask_unit"          # the unit confirms whether the mailbox is still needed
    REASSIGN_OWNER = "reassign_owner"  # a functional mailbox needs a new accountable owner
    MOVE_UNIT = "move_unit"        # the mailbox belongs to the owner's new unit
    REMOVE_FORWARD = "remove_forward"  # mail must not leave for a public provider
    ADOPT = "adopt"                # a live account no file declares: import it, then decide


@dataclass(frozen=True, slots=True)
class Criteria:
    as_of: date
    tz: ZoneInfo
    idle_days: int = 90
    expiring_days: int = 30
    grace_days: int = 30
    public_mail_domains: tuple[str, ...] = ()

    @property
    def clock(self) -> Clock:
        """The one clock in the review's zone (the ``timezone`` setting): local days and displayed times."""
        return Clock(self.tz)


@dataclass(frozen=True, slots=True)
class Finding:
    address: str
    unit: str
    finding: FindingKind
    proposal: Proposal
    evidence: dict[str, object]
    #: the person or role the mailbox is named for
    name: str = ""
    #: why, in one sentence for people (in the current language; dates dd/mm/yyyy)
    reason: str = ""
    #: declared in a unit file (only those can be changed by a proposal branch)
    managed: bool = True

    def to_json(self) -> dict[str, object]:
        return {"address": self.address, "unit": self.unit, "name": self.name, "finding": self.finding.value,
                "evidence": self.evidence, "proposal": self.proposal.value, "summary": self.summary}

    @property
    def summary(self) -> str:
        """The reason, naming the mailbox: address, person and unit."""
        return self.described()

    def described(self, unit_name: str | None = None) -> str:
        """The reason, naming the mailbox: address, person and the unit (its full name when given)."""
        unit = f"{unit_name} ({self.unit})" if unit_name else self.unit
        return _("{address} ({name}, {unit}): {reason}").format(
            address=self.address, name=self.name or _("no name"), unit=unit or _("no unit"), reason=self.reason)

    @property
    def auto(self) -> bool:
        """Carried out by the proposal branch (set to disabled) rather than left to a person."""
        return self.proposal is Proposal.DISABLE and self.managed


def day(value: date) -> str:
    return date_text(value)


def moment_text(moment: datetime, tz: ZoneInfo) -> str:
    """A moment for people, in ``tz``: the clock's display format."""
    return Clock(tz).time_text(moment)


def _iso(moment: datetime | None, c: Criteria) -> str | None:
    """Evidence times: ISO 8601 with the configured zone's offset."""
    return None if moment is None else c.clock.json_time(moment)


def at_domain(address: str, domains: Iterable[str]) -> bool:
    domain = address.rpartition("@")[2].lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in domains)


def public_targets(aliases: Iterable[str], forward_to: Iterable[str], public_domains: Iterable[str]) -> list[str]:
    """The aliases and forwarding addresses of one account that sit at a public mail provider."""
    domains = tuple(d.lower() for d in public_domains)
    return sorted({a for a in (*aliases, *forward_to) if at_domain(a, domains)})


def _by_address(desired: Desired) -> dict[str, Mailbox]:
    return {m.address.lower(): m for m in desired.mailboxes()}


def _live_unit(account: Account) -> str:
    return str(account.fields.get("unit") or "")


def _person(mailbox: Mailbox | None, account: Account | None) -> str:
    if mailbox is not None:
        return mailbox.name
    return account.name if account is not None else ""


def login_findings(desired: Mapping[str, Mailbox], live: Mapping[str, Account], c: Criteria) -> list[Finding]:
    """idle (last login too long ago) and never_used (created too long ago, no login ever)."""
    found = []
    for key, account in live.items():
        mailbox = desired.get(key)
        if account.disabled_since is not None or (mailbox is not None and mailbox.status is not Status.ACTIVE):
            continue  # already disabled, or the plan disables it anyway
        unit = mailbox.unit if mailbox else _live_unit(account)
        proposal = Proposal.DISABLE if mailbox else Proposal.ADOPT
        name = _person(mailbox, account)
        if account.last_login is not None:
            last = c.clock.day_of(account.last_login)
            days = (c.as_of - last).days
            if days > c.idle_days:
                found.append(Finding(account.address, unit, FindingKind.IDLE, proposal,
                                     {"last_login": _iso(account.last_login, c), "days_since_login": days,
                                      "idle_days": c.idle_days}, name,
                                     _("last login {when}, {days} days before {as_of} (limit {limit})").format(
                                         when=moment_text(account.last_login, c.tz), days=days, as_of=day(c.as_of),
                                         limit=c.idle_days), mailbox is not None))
        elif account.created is not None:
            created = c.clock.day_of(account.created)
            days = (c.as_of - created).days
            if days > c.idle_days:
                found.append(Finding(account.address, unit, FindingKind.NEVER_USED, proposal,
                                     {"created": _iso(account.created, c), "days_since_created": days,
                                      "last_login": None, "idle_days": c.idle_days}, name,
                                     _("never logged in since it was created on {created}, {days} days "
                                       "before {as_of} (limit {limit})").format(
                                         created=day(created), days=days, as_of=day(c.as_of), limit=c.idle_days),
                                     mailbox is not None))
    return found


def expiry_findings(desired: Iterable[Mailbox], c: Criteria) -> list[Finding]:
    found = []
    for m in desired:
        if m.status is not Status.ACTIVE or m.expires is None:
            continue
        days = (m.expires - c.as_of).days
        if days < 0:
            found.append(Finding(m.address, m.unit, FindingKind.EXPIRED, Proposal.DISABLE,
                                 {"expires": m.expires.isoformat(), "days_past": -days}, m.name,
                                 _("past its end date {date} ({days} days ago)").format(date=day(m.expires),
                                                                                       days=-days)))
        elif days <= c.expiring_days:
            found.append(Finding(m.address, m.unit, FindingKind.EXPIRING, Proposal.ASK_UNIT,
                                 {"expires": m.expires.isoformat(), "days_left": days,
                                  "expiring_days": c.expiring_days}, m.name,
                                 _("expires on {date}, in {days} days: renew it or let it lapse").format(
                                     date=day(m.expires), days=days)))
    return found


def grace_findings(desired: Iterable[Mailbox], live: Mapping[str, Account], c: Criteria) -> list[Finding]:
    """Declared disabled, disabled in the directory for longer than the grace period, not yet tombstoned."""
    found = []
    for m in desired:
        account = live.get(m.address.lower())
        if m.status is not Status.DISABLED or account is None or account.disabled_since is None:
            continue
        days = (c.as_of - c.clock.day_of(account.disabled_since)).days
        if days > c.grace_days:
            found.append(Finding(m.address, m.unit, FindingKind.DISABLED_PAST_GRACE, Proposal.REMOVE,
                                 {"disabled_since": _iso(account.disabled_since, c), "days_disabled": days,
                                  "removal_grace_days": c.grace_days}, m.name,
                                 _("disabled since {when}, {days} days (grace period {grace}): tombstone it "
                                   "(status: removed) or enable it again").format(
                                     when=moment_text(account.disabled_since, c.tz), days=days, grace=c.grace_days)))
    return found


def _same_unit(roster_unit: str, mailbox_unit: str, unit_names: Mapping[str, str]) -> bool:
    wanted = roster_unit.casefold()
    return wanted in (mailbox_unit.casefold(), unit_names.get(mailbox_unit, "").casefold())


def roster_findings(desired: Iterable[Mailbox], roster: Roster, c: Criteria,
                    unit_names: Mapping[str, str]) -> list[Finding]:
    """Owners missing from the HR roster, gone, or moved to another unit (active mailboxes only)."""
    found = []
    for m in desired:
        if m.status is not Status.ACTIVE:
            continue
        functional = m.kind is Kind.FUNCTIONAL
        owner = f"{m.owner.name} ({m.owner.id})"
        person = roster.get(m.owner.id)
        base = {"owner": m.owner.id, "owner_name": m.owner.name, "kind": m.kind.value, "roster": roster.file}
        if person is None:
            found.append(Finding(m.address, m.unit, FindingKind.OWNER_NOT_ON_ROSTER,
                                 Proposal.REASSIGN_OWNER if functional else Proposal.ASK_UNIT, base, m.name,
                                 (_("its custodian {owner} is not on the staff roster {roster}") if functional else
                                  _("its owner {owner} is not on the staff roster {roster}")).format(
                                     owner=owner, roster=roster.file)))
        elif person.left_on is not None and person.left_on <= c.as_of:
            found.append(Finding(m.address, m.unit, FindingKind.OWNER_LEFT,
                                 Proposal.REASSIGN_OWNER if functional else Proposal.DISABLE,
                                 {**base, "left_on": person.left_on.isoformat(), "roster_row": person.source},
                                 m.name, (_("its custodian {owner} left on {date} ({row})") if functional else
                                          _("its owner {owner} left on {date} ({row})")).format(
                                     owner=owner, date=day(person.left_on), row=person.source)))
        elif not _same_unit(person.unit, m.unit, unit_names):
            found.append(Finding(m.address, m.unit, FindingKind.OWNER_MOVED_UNIT,
                                 Proposal.REASSIGN_OWNER if functional else Proposal.MOVE_UNIT,
                                 {**base, "roster_unit": person.unit, "roster_row": person.source}, m.name,
                                 (_("its custodian {owner} now works at {unit} ({row})") if functional else
                                  _("its owner {owner} now works at {unit} ({row})")).format(
                                     owner=owner, unit=person.unit, row=person.source)))
    return found


def signup_findings(deliveries: Iterable[Delivery], desired: Desired, live: Mapping[str, Account],
                    signup_domains: Iterable[str], c: Criteria) -> list[Finding]:
    """Official addresses that receive mail from social networks' and forums' sign-up senders."""
    domains = tuple(d.lower() for d in signup_domains)
    owners: dict[str, tuple[str, str, str, bool]] = {}  # any address or alias -> (address, unit, name, managed)
    for account in live.values():
        for address in (account.address, *account.fields.get("aliases", ())):  # type: ignore[misc]
            owners[str(address).lower()] = (account.address, _live_unit(account), account.name, False)
    for m in desired.mailboxes():
        for address in (m.address, *m.aliases):
            owners[address.lower()] = (m.address, m.unit, m.name, True)
    grouped: dict[str, list[Delivery]] = {}
    for d in deliveries:
        if not at_domain(d.sender, domains):
            continue
        for address in (d.original_recipient, d.recipient):
            if address and address in owners:
                grouped.setdefault(owners[address][0], []).append(d)
                break
    found = []
    for address, items in grouped.items():
        _a, unit, name, managed = owners[address.lower()]
        times = sorted(d.when for d in items if d.when is not None)
        senders = sorted({d.sender for d in items})
        evidence: dict[str, object] = {
            "messages": len(items), "senders": senders,
            "first": _iso(times[0], c) if times else None, "last": _iso(times[-1], c) if times else None,
            "log_lines": [f"{d.where}: {d.line}" for d in items[:MAX_LOG_LINES]],
        }
        period = _(", {first} to {last}").format(first=moment_text(times[0], c.tz),
                                                  last=moment_text(times[-1], c.tz)) if times else ""
        found.append(Finding(address, unit, FindingKind.SOCIAL_SIGNUP, Proposal.ASK_UNIT, evidence, name,
                             _("{count} message(s) from {senders}{period}: signed up to a social network or "
                               "forum with an official address").format(
                                 count=len(items), senders=", ".join(senders), period=period), managed))
    return found


def forward_findings(desired: Mapping[str, Mailbox], live: Mapping[str, Account], c: Criteria) -> list[Finding]:
    """Live accounts, managed or not, whose forward or alias sits at a public mail provider."""
    found = []
    for key, account in live.items():
        if account.disabled_since is not None:
            continue
        targets = public_targets(account.fields.get("aliases", ()),  # type: ignore[arg-type]
                                 account.fields.get("forward_to", ()), c.public_mail_domains)  # type: ignore[arg-type]
        if not targets:
            continue
        mailbox = desired.get(key)
        unit = mailbox.unit if mailbox else _live_unit(account)
        name = _person(mailbox, account)
        found.append(Finding(account.address, unit, FindingKind.PUBLIC_FORWARD, Proposal.REMOVE_FORWARD,
                             {"public_addresses": targets,
                              "forward_to": list(account.fields.get("forward_to", ())),  # type: ignore[call-overload]
                              "aliases": list(account.fields.get("aliases", ()))},  # type: ignore[call-overload]
                             name, _("mail goes to a public provider in the live directory: {targets}").format(
                                 targets=", ".join(targets)), mailbox is not None))
    return found


ORDER = {kind: index for index, kind in enumerate(FindingKind)}


def review(desired: Desired, live: Mapping[str, Account], c: Criteria, *, roster: Roster | None = None,
           deliveries: Iterable[Delivery] = (), signup_domains: Iterable[str] = ()) -> list[Finding]:
    """Every finding, sorted by unit, address and kind (pure)."""
    by_address = _by_address(desired)
    mailboxes = desired.mailboxes()
    found = [*login_findings(by_address, live, c), *expiry_findings(mailboxes, c),
             *grace_findings(mailboxes, live, c), *forward_findings(by_address, live, c),
             *signup_findings(deliveries, desired, live, signup_domains, c)]
    if roster is not None:
        found += roster_findings(mailboxes, roster, c, {u.id: u.name for u in desired.units})
    return sorted(found, key=lambda f: (f.unit, f.address.lower(), ORDER[f.finding]))
