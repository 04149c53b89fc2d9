"""The auditor's report: the declared state at a point in git history, and the changes that led to it."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import git

from reconciler.audit.gitrepo import CommitInfo, GitRepo
from reconciler.audit.history import (
    HistoryEntry,
    applications,
    apply_records,
    attribution_text,
    changes_between,
    commit_json,
    records_missing,
)
from reconciler.audit.lifecycle import declaration, expired_active, expiring
from reconciler.clock import Clock
from reconciler.i18n import _, format_date, ngettext
from reconciler.model import Desired, Kind, Status
from reconciler.review.record import ReviewRecord, last_review
from reconciler.textfmt import csv_document, md, md_code, safe_lines, value

EXPIRY_WINDOW_DAYS = 30
#: so that Excel reads a CSV file as UTF-8 (Vietnamese intact): every CSV the reconciler writes starts with it
MAILBOX_COLUMNS = ("unit", "address", "name", "kind", "owner", "owner_name", "status", "aliases", "forward_to",
                   "expires", "ticket")


@dataclass(frozen=True, slots=True)
class Report:
    at: CommitInfo
    at_date: date
    since: datetime | None
    units: dict[str, str]
    desired: Desired
    changes: list[HistoryEntry]
    #: the newest review (rà soát) record in git at the report's commit
    last_review: ReviewRecord | None = None
    clock: Clock = field(default_factory=Clock)
    records_known: bool = True

    def counts(self) -> dict[str, dict[str, int]]:
        table: dict[str, Counter[str]] = {u: Counter() for u in self.units}
        for m in self.desired.mailboxes():
            table[m.unit][f"{m.kind.value}_{m.status.value}"] += 1
        keys = [f"{k.value}_{s.value}" for k in Kind for s in Status]
        return {unit: {k: counter.get(k, 0) for k in keys} for unit, counter in table.items()}

    def to_json(self) -> dict[str, object]:
        return {
            "format_version": 1,
            "at": {"commit": self.at.sha, "date": self.clock.json_time(self.at.date),
                   "as_of": self.at_date.isoformat()},
            "since": self.clock.json_time(self.since) if self.since else None,
            "last_review": {"date": self.last_review.date.isoformat(), "file": self.last_review.file}
            if self.last_review else None,
            "apply_records_fetched": self.records_known,
            "mailboxes": [declaration(m) for m in sorted(self.desired.mailboxes(), key=lambda m: (m.unit, m.address))],
            "units": [{"id": u, "name": n, "counts": self.counts()[u]} for u, n in self.units.items()],
            "functional": [{"address": m.address, "unit": m.unit, "owner": m.owner.id, "owner_name": m.owner.name,
                            "status": m.status.value}
                           for m in self.desired.mailboxes() if m.kind is Kind.FUNCTIONAL],
            "expiring": [{"address": m.address, "unit": m.unit, "expires": m.expires.isoformat() if m.expires else None,
                          "owner": m.owner.id} for m in expiring(self.desired, self.at_date, EXPIRY_WINDOW_DAYS)],
            "expired_active": [{"address": m.address, "unit": m.unit,
                                "expires": m.expires.isoformat() if m.expires else None, "owner": m.owner.id}
                               for m in expired_active(self.desired, self.at_date)],
            "changes": [change_json(e, self.clock) for e in self.changes],
        }


def change_json(entry: HistoryEntry, clock: Clock | None = None) -> dict[str, object]:
    change = entry.change
    before, after = change.before or {}, change.after or {}
    return {
        **commit_json(entry, clock),
        "address": change.address,
        "unit": after.get("unit") or before.get("unit"),
        "status": [before.get("status"), after.get("status")],
        "live_since": live_since(entry),
    }


def live_since(entry: HistoryEntry) -> str | None:
    """When the change reached the directory: the first apply record that carried it out."""
    return next((r.applied_at for r, o in entry.applied if o.get("outcome") == "ok"), None)


def build(repo: GitRepo, commit: git.Commit, as_of: date, since: datetime, mailboxes_dir: str, *,
          clock: Clock | None = None) -> Report:
    """The report of the declarations at ``commit`` and the changes committed since ``since``."""
    desired = repo.desired_at(commit, mailboxes_dir)
    units = {u.id: u.name for u in sorted(desired.units, key=lambda u: u.id)}
    records = apply_records(repo)
    changes = [replace(e, applied=applications(repo, e.commit.sha, e.change.address, records))
               if e.change.reaches_directory else e
               for e in changes_between(repo, mailboxes_dir, commit.hexsha, since)]
    return Report(repo.info(commit), as_of, since, units, desired, changes, last_review(commit), clock or Clock(),
                  repo.has_apply_records())


def _cell(item: object) -> str:
    return md(value(item, none="", empty=""))


def _word(value: object) -> str:
    from reconciler.plan.render import format_value  # statuses and kinds, as people call them

    return format_value(value)


def _unit(report: Report, unit: str) -> str:
    name = report.units.get(unit)
    return f"{_cell(name)} (`{unit}`)" if name else unit


def status_move(entry: HistoryEntry) -> str:
    from reconciler.plan.render import field_label

    before, after = entry.change.before, entry.change.after
    if before is None:
        return _("declared ({status})").format(status=_word((after or {}).get("status")))
    if after is None:
        return _("deleted from YAML")
    if before.get("status") != after.get("status"):
        return f"{_word(before.get('status'))} → {_word(after.get('status'))}"
    return _("updated: {fields}").format(fields=", ".join(field_label(f) for f, _o, _n in entry.change.fields))


def markdown(report: Report) -> str:
    clock = report.clock
    lines = ["# " + _("Official mailboxes — report as of {date}").format(date=format_date(report.at_date)), "",
             _("Declarations at commit `{commit}` ({when}, {subject}).").format(
                 commit=report.at.short, when=clock.time_text(report.at.date), subject=report.at.subject),
             "", review_line(report.last_review), ""]
    if not report.records_known:
        lines += ["> **" + _("Note:") + f"** {records_missing()}", ""]
    mailboxes = report.desired.mailboxes()
    totals = Counter(m.status.value for m in mailboxes)
    lines += [ngettext("{count} mailbox declared: {active} active, {disabled} disabled, {removed} removed.",
                       "{count} mailboxes declared: {active} active, {disabled} disabled, {removed} removed.",
                       len(mailboxes)).format(count=len(mailboxes), active=totals.get("active", 0),
                                              disabled=totals.get("disabled", 0), removed=totals.get("removed", 0)),
              ""]
    lines += ["## " + _("Per unit"), "",
              "| " + " | ".join([_("Unit"), _("Personal active"), _("Personal disabled"), _("Personal removed"),
                                 _("Functional active"), _("Functional disabled"), _("Functional removed")]) + " |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for unit, counts in report.counts().items():
        numbers = " | ".join(str(v) for v in counts.values())
        lines.append(f"| {_cell(report.units[unit])} (`{unit}`) | {numbers} |")
    lines += ["", "## " + _("Functional mailboxes and their accountable owners"), "",
              "| " + " | ".join([_("Address"), _("Unit"), _("Accountable owner"), _("Status")]) + " |",
              "| --- | --- | --- | --- |"]
    lines += [f"| {md_code(m.address)} | {_unit(report, m.unit)} | {_cell(m.owner.name)} ({m.owner.id}) | "
              f"{_word(m.status.value)} |" for m in mailboxes if m.kind is Kind.FUNCTIONAL]
    soon = expiring(report.desired, report.at_date, EXPIRY_WINDOW_DAYS)
    lines += ["", "## " + _("Expiring within {days} days").format(days=EXPIRY_WINDOW_DAYS), ""]
    lines += (["| " + " | ".join([_("Address"), _("Unit"), _("Owner"), _("Expires")]) + " |",
               "| --- | --- | --- | --- |"]
              + [f"| {md_code(m.address)} | {_unit(report, m.unit)} | {_cell(m.owner.name)} | "
                 f"{format_date(m.expires)} |" for m in soon]) if soon else [_("None.")]
    late = expired_active(report.desired, report.at_date)
    lines += ["", "## " + _("Expired but still active"), "",
              _("Declared active past their expiry date; the next apply disables them."), ""]
    lines += (["| " + " | ".join([_("Address"), _("Unit"), _("Owner"), _("Expired on")]) + " |",
               "| --- | --- | --- | --- |"]
              + [f"| {md_code(m.address)} | {_unit(report, m.unit)} | {_cell(m.owner.name)} | "
                 f"{format_date(m.expires)} |" for m in late]) if late else [_("None.")]
    period = (_("Changes since {date}").format(date=format_date(clock.day_of(report.since))) if report.since
              else _("Changes since the beginning"))
    lines += ["", f"## {period}", ""]
    if report.changes:
        lines += ["| " + " | ".join([_("Date"), _("Address"), _("Change"), _("Ticket"), _("Author"), _("Pull request"),
                                     _("Merged by"), _("Live since")]) + " |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for e in report.changes:
            merged = f"{e.merged_by} {clock.time_text(e.merged_at)}" if e.merged_at else \
                _cell(attribution_text(e, clock))
            pr = f"#{e.pr}" if e.pr else ""
            live = clock.time_text_of(live_since(e)) or ("" if e.records_known
                                                         else _("unknown (records not fetched)"))
            lines.append(f"| {clock.time_text(e.commit.date)} | {md_code(e.change.address)} | "
                         f"{_cell(status_move(e))} | "
                         f"{_cell(e.ticket)} | {_cell(e.commit.author)} | {pr} | {merged} | "
                         f"{_cell(live)} |")
    else:
        lines.append(_("None."))
    lines += ["", "## " + _("All mailboxes"), "",
              "| " + " | ".join([_("Unit"), _("Address"), _("Name"), _("Kind"), _("Owner"), _("Status"), _("Expires"),
                                 _("Ticket")]) + " |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in sorted(mailboxes, key=lambda m: (m.unit, m.address)):
        lines.append(f"| {_unit(report, m.unit)} | {md_code(m.address)} | {_cell(m.name)} | {_word(m.kind.value)} | "
                     f"{_cell(m.owner.name)} ({m.owner.id}) | {_word(m.status.value)} | "
                     f"{_cell(format_date(m.expires) if m.expires else None)} | {_cell(m.ticket)} |")
    return "\n".join(safe_lines(lines)) + "\n"


def review_line(record: ReviewRecord | None) -> str:
    if record is None:
        return _("Last review (rà soát): none recorded (no reviews/*.md at this commit).")
    return _("Last review (rà soát): {date} (`{file}`).").format(date=format_date(record.date), file=record.file)


def csv_text(report: Report) -> str:
    """One row per mailbox, as declared at the report's commit (spreadsheets open it directly)."""
    rows: list[list[object]] = [[*MAILBOX_COLUMNS, "unit_name"]]
    for m in sorted(report.desired.mailboxes(), key=lambda m: (m.unit, m.address)):
        row = declaration(m)
        rows.append([*(_plain(row[c]) for c in MAILBOX_COLUMNS), report.units.get(m.unit, "")])
    return csv_document(rows)


def _plain(item: object) -> str:
    return value(item, none="", empty="", separator=" ")


def json_text(report: Report) -> str:
    return json.dumps(report.to_json(), ensure_ascii=False, indent=2)
