"""Gather the review's evidence (declarations, directory, roster, mail logs) and find what to review."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from reconciler.declarations import desired as desired_files
from reconciler.directory import profiles
from reconciler.directory.base import Directory
from reconciler.i18n import _
from reconciler.model import Account, Desired
from reconciler.problems import InputError, Problem
from reconciler.review import findings as finding_rules
from reconciler.review import maillog
from reconciler.review import roster as roster_file
from reconciler.review.findings import Criteria, Finding, at_domain
from reconciler.settings import Settings

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Review:
    criteria: Criteria
    findings: list[Finding]
    directory: str
    roster: str | None = None
    maillogs: tuple[str, ...] = ()
    desired: Desired = field(default_factory=lambda: Desired(()), repr=False)

    @property
    def as_of(self) -> date:
        return self.criteria.as_of

    def to_json(self) -> dict[str, object]:
        c = self.criteria
        return {
            "format_version": FORMAT_VERSION,
            "as_of": c.as_of.isoformat(),
            "criteria": {"idle_days": c.idle_days, "expiring_days": c.expiring_days,
                         "removal_grace_days": c.grace_days},
            "sources": {"directory": self.directory, "roster": self.roster, "maillogs": list(self.maillogs)},
            "findings": [f.to_json() for f in self.findings],
        }


def load_desired(settings: Settings) -> Desired:
    """The unit files as far as they conform to the schema. A policy problem (an expired mailbox still
    active, say) is what a review is for, so it does not stop one; an unreadable file does."""
    loaded = desired_files.load_directory(settings.mailboxes_path, settings.root)
    if loaded.problems:
        raise InputError(loaded.problems)
    return loaded.desired


def read_live(directory: Directory, profile_name: str) -> dict[str, Account]:
    """Live accounts with what a review reads beyond a plan (when each was created)."""
    profile = profiles.get(profile_name)
    return profile.accounts(list(directory.search(profile.OBJECT_CLASS, profile.REVIEW_READ_ATTRIBUTES)))


def run(settings: Settings, directory: Directory, *, as_of: date, idle_days: int = 90, expiring_days: int = 30,
        roster: Path | None = None, maillogs: Sequence[Path] = ()) -> Review:
    """The review of every mailbox as of ``as_of`` (reads; writes nothing)."""
    for name, value in (("--idle-days", idle_days), ("--expiring-days", expiring_days)):
        if value < 0:
            raise InputError(Problem(name, _("must not be negative, found {value}").format(value=value),
                                     rule="input"))
    tz = settings.clock().tz
    criteria = Criteria(as_of, tz, idle_days, expiring_days, settings.policy.removal_grace_days,
                        settings.policy.public_mail_domains)
    desired = load_desired(settings)
    staff = roster_file.load(roster) if roster is not None else None
    signup_domains = settings.review.signup_sender_domains
    deliveries = [d for path in maillogs for d in maillog.read(
        path, as_of=as_of, tz=tz, keep_sender=lambda sender: at_domain(sender, signup_domains))]
    live = read_live(directory, settings.directory.profile)
    found = finding_rules.review(desired, live, criteria, roster=staff, deliveries=deliveries,
                                 signup_domains=signup_domains)
    return Review(criteria, found, directory.describe(), str(roster) if roster else None,
                  tuple(str(p) for p in maillogs), desired)
