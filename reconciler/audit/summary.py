"""`report --summary`: the figures a province reports to the Ministry, per unit and in total.

Pure where it can be: the figures are computed from plain inputs (declarations at a commit, the
period's changes, an optional roster, optional last logins); git and the directory are read by
:func:`build`'s callers' objects. Rendering lives in ``summary_formats``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import git

from reconciler.audit.gitrepo import GitRepo
from reconciler.audit.history import HistoryEntry, changes_between
from reconciler.clock import Clock
from reconciler.i18n import _
from reconciler.model import Account, Desired, Kind, Status
from reconciler.review.record import last_review
from reconciler.review.roster import Person

#: a mailbox counts as used when its owner logged in within this many days of the report's date
USE_WINDOW_DAYS = 30
#: at most this many points on the chart of active mailboxes over time (one per day, the latest kept)
CHART_POINTS = 60
@dataclass(slots=True)
class Figures:
    """One row of the summary: a unit, or the province's total (``unit`` is None)."""

    unit: str | None
    unit_name: str
    active: int = 0
    disabled: int = 0
    removed: int = 0
    personal: int = 0
    functional: int = 0
    created: int = 0
    removed_in_period: int = 0
    #: staff on the roster (or the unit file's `staff`); None when nobody said
    staff: int | None = None
    #: of those, how many hold an active personal mailbox; None when not measured
    staff_with_mailbox: int | None = None
    #: active mailboxes used in the last USE_WINDOW_DAYS; None when the directory was not read
    used: int | None = None

    @property
    def staff_share(self) -> float | None:
        if not self.staff or self.staff_with_mailbox is None:
            return None
        return self.staff_with_mailbox / self.staff

    @property
    def used_share(self) -> float | None:
        if self.used is None or not self.active:
            return None
        return self.used / self.active

    def to_json(self) -> dict[str, object]:
        return {"unit": self.unit, "unit_name": self.unit_name, "active": self.active, "disabled": self.disabled,
                "removed": self.removed, "personal": self.personal, "functional": self.functional,
                "created": self.created, "removed_in_period": self.removed_in_period, "staff": self.staff,
                "staff_with_mailbox": self.staff_with_mailbox, "staff_share": _rounded(self.staff_share),
                "used": self.used, "used_share": _rounded(self.used_share)}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True, slots=True)
class Summary:
    at: date
    commit: str
    since: date
    units: list[Figures]
    total: Figures
    #: (day, active mailboxes declared at the end of that day), oldest first
    timeline: list[tuple[date, int]] = field(default_factory=list)
    last_review: date | None = None
    staff_source: str | None = None  # "roster" | "unit files" | None
    usage_measured: bool = False

    def to_json(self) -> dict[str, object]:
        return {"format_version": 1, "at": self.at.isoformat(), "commit": self.commit,
                "since": self.since.isoformat(), "staff_source": self.staff_source,
                "usage_measured": self.usage_measured, "use_window_days": USE_WINDOW_DAYS,
                "last_review": self.last_review.isoformat() if self.last_review else None,
                "units": [f.to_json() for f in self.units], "total": self.total.to_json(),
                "timeline": [{"date": d.isoformat(), "active": n} for d, n in self.timeline]}


# -- the figures (pure) -------------------------------------------------------------------------------


def figures(desired: Desired, changes: Iterable[HistoryEntry], *, at: date, roster: list[Person] | None,
            last_logins: Mapping[str, Account] | None,
            clock: Clock | None = None) -> tuple[list[Figures], Figures]:
    """Per-unit figures and their total, from the declarations at ``at`` and the period's changes; the day
    ``at`` ends in ``clock``'s zone (the ``timezone`` setting)."""
    rows = {u.id: Figures(u.id, u.name) for u in sorted(desired.units, key=lambda u: u.id)}
    unit_of: dict[str, str] = {}
    active_owners: dict[str, set[str]] = {u: set() for u in rows}
    since_login = (clock or Clock()).end_of_day(at) - timedelta(days=USE_WINDOW_DAYS)
    for m in desired.mailboxes():
        row = rows[m.unit]
        unit_of[m.address.lower()] = m.unit
        if m.status is Status.ACTIVE:
            row.active += 1
            if m.kind is Kind.PERSONAL:
                row.personal += 1
                active_owners[m.unit].add(m.owner.id)
            else:
                row.functional += 1
            if last_logins is not None:
                account = last_logins.get(m.address.lower())
                login = account.last_login if account is not None else None
                row.used = (row.used or 0) + (1 if login is not None and login >= since_login else 0)
        elif m.status is Status.DISABLED:
            row.disabled += 1
        else:
            row.removed += 1
    for entry in changes:
        before, after = entry.change.before, entry.change.after
        unit = str((after or before or {}).get("unit", ""))
        if unit not in rows:
            unit = unit_of.get(entry.change.address.lower(), "")
        if unit not in rows:
            continue
        if before is None and after is not None:
            rows[unit].created += 1
        elif after is not None and after.get("status") == Status.REMOVED.value and \
                (before or {}).get("status") != Status.REMOVED.value:
            rows[unit].removed_in_period += 1
    if last_logins is not None:
        for row in rows.values():
            row.used = row.used or 0
    _staff(rows, desired, active_owners, roster, at)
    return list(rows.values()), _total(rows.values())


def _staff(rows: dict[str, Figures], desired: Desired, active_owners: dict[str, set[str]],
           roster: list[Person] | None, at: date) -> None:
    if roster is not None:
        all_owners = set().union(*active_owners.values()) if active_owners else set()
        by_name = {row.unit_name.casefold(): row for row in rows.values()}
        for row in rows.values():
            row.staff, row.staff_with_mailbox = 0, 0
        for person in roster:
            if person.left_on is not None and person.left_on <= at:
                continue
            # HR writes a unit by its id or, more often, by its name (Sở Y tế).
            row = rows.get(person.unit) or by_name.get(person.unit.casefold())
            if row is None:
                continue
            row.staff = (row.staff or 0) + 1
            if person.id in all_owners:
                row.staff_with_mailbox = (row.staff_with_mailbox or 0) + 1
        return
    # Without a roster, the unit file's `staff` count: everyone with an active personal mailbox is staff.
    for unit in desired.units:
        if unit.staff is not None:
            rows[unit.id].staff = unit.staff
            rows[unit.id].staff_with_mailbox = min(len(active_owners[unit.id]), unit.staff)


def _total(rows: Iterable[Figures]) -> Figures:
    total = Figures(None, _("Total"))
    rows = list(rows)
    for name in ("active", "disabled", "removed", "personal", "functional", "created", "removed_in_period"):
        setattr(total, name, sum(getattr(r, name) for r in rows))
    for name in ("staff", "staff_with_mailbox", "used"):
        values = [getattr(r, name) for r in rows if getattr(r, name) is not None]
        setattr(total, name, sum(values) if values else None)
    if total.staff is not None:
        # A share over the units that report staff only: units without a count are left out of both sides.
        total.staff_with_mailbox = sum(r.staff_with_mailbox or 0 for r in rows if r.staff is not None)
    return total


def active_count(desired: Desired) -> int:
    return sum(1 for m in desired.mailboxes() if m.status is Status.ACTIVE)


# -- the roster ---------------------------------------------------------------------------------------


# -- git ------------------------------------------------------------------------------------------------


def timeline(repo: GitRepo, mailboxes_dir: str, rev: str, clock: Clock | None = None) -> list[tuple[date, int]]:
    """Active mailboxes declared at the end of each day that changed them (the latest CHART_POINTS days)."""
    clock = clock or Clock()
    last_of_day: dict[date, git.Commit] = {}
    for commit in repo.commits_touching(mailboxes_dir, rev):
        last_of_day[clock.day_of(commit.committed_datetime)] = commit
    days = sorted(last_of_day)[-CHART_POINTS:]
    return [(day, active_count(repo.desired_at(last_of_day[day], mailboxes_dir))) for day in days]


def _review_date(commit: git.Commit) -> date | None:
    """The date of the newest review (rà soát) at ``commit``: the same record the auditor's report names."""
    record = last_review(commit)
    return record.date if record is not None else None


def build(repo: GitRepo, commit: git.Commit, at: date, since: datetime, mailboxes_dir: str, *,
          roster: list[Person] | None = None, last_logins: Mapping[str, Account] | None = None,
          clock: Clock | None = None) -> Summary:
    """``clock``: the zone that decides where a day ends (the ``timezone`` setting; Vietnam time without one)."""
    desired = repo.desired_at(commit, mailboxes_dir)
    changes = changes_between(repo, mailboxes_dir, commit.hexsha, since)
    units, total = figures(desired, changes, at=at, roster=roster, last_logins=last_logins, clock=clock)
    staff_source = "roster" if roster is not None else (
        "unit files" if any(u.staff is not None for u in desired.units) else None)
    return Summary(at, commit.hexsha, since.date(), units, total, timeline(repo, mailboxes_dir, commit.hexsha, clock),
                   _review_date(commit), staff_source, last_logins is not None)
