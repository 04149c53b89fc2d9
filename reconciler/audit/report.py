"""The auditor's report: the declared state at a point in git history, and the changes that led to it."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime

import git

from reconciler.audit.gitrepo import CommitInfo, GitRepo
from reconciler.audit.history import HistoryEntry, applications, apply_records, changes_between, commit_json
from reconciler.audit.lifecycle import declaration, expiring
from reconciler.model import Desired, Kind, Status
from reconciler.textfmt import md, md_code, safe_lines, value

EXPIRY_WINDOW_DAYS = 30
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

    def counts(self) -> dict[str, dict[str, int]]:
        table: dict[str, Counter[str]] = {u: Counter() for u in self.units}
        for m in self.desired.mailboxes():
            table[m.unit][f"{m.kind.value}_{m.status.value}"] += 1
        keys = [f"{k.value}_{s.value}" for k in Kind for s in Status]
        return {unit: {k: counter.get(k, 0) for k in keys} for unit, counter in table.items()}

    def to_json(self) -> dict[str, object]:
        return {
            "format_version": 1,
            "at": {"commit": self.at.sha, "date": self.at.date.isoformat(), "as_of": self.at_date.isoformat()},
            "since": self.since.isoformat() if self.since else None,
            "mailboxes": [declaration(m) for m in sorted(self.desired.mailboxes(), key=lambda m: (m.unit, m.address))],
            "units": [{"id": u, "name": n, "counts": self.counts()[u]} for u, n in self.units.items()],
            "functional": [{"address": m.address, "unit": m.unit, "owner": m.owner.id, "owner_name": m.owner.name,
                            "status": m.status.value}
                           for m in self.desired.mailboxes() if m.kind is Kind.FUNCTIONAL],
            "expiring": [{"address": m.address, "unit": m.unit, "expires": m.expires.isoformat() if m.expires else None,
                          "owner": m.owner.id} for m in expiring(self.desired, self.at_date, EXPIRY_WINDOW_DAYS)],
            "changes": [change_json(e) for e in self.changes],
        }


def change_json(entry: HistoryEntry) -> dict[str, object]:
    change = entry.change
    before, after = change.before or {}, change.after or {}
    return {
        **commit_json(entry),
        "address": change.address,
        "unit": after.get("unit") or before.get("unit"),
        "status": [before.get("status"), after.get("status")],
        "live_since": live_since(entry),
    }


def live_since(entry: HistoryEntry) -> str | None:
    """When the change reached the directory: the first apply record that carried it out."""
    return next((r.applied_at for r, o in entry.applied if o.get("outcome") == "ok"), None)


def build(repo: GitRepo, commit: git.Commit, as_of: date, since: datetime, mailboxes_dir: str) -> Report:
    """The report of the declarations at ``commit`` and the changes committed since ``since``."""
    desired = repo.desired_at(commit, mailboxes_dir)
    units = {u.id: u.name for u in sorted(desired.units, key=lambda u: u.id)}
    records = apply_records(repo)
    changes = [replace(e, applied=applications(repo, e.commit.sha, e.change.address, records))
               if e.change.reaches_directory else e
               for e in changes_between(repo, mailboxes_dir, commit.hexsha, since)]
    return Report(repo.info(commit), as_of, since, units, desired, changes)


def _cell(item: object) -> str:
    return md(value(item, none="", empty=""))


def status_move(entry: HistoryEntry) -> str:
    before, after = entry.change.before, entry.change.after
    if before is None:
        return f"declared ({value((after or {}).get('status'), none='')})"
    if after is None:
        return "deleted from YAML"
    if before.get("status") != after.get("status"):
        return f"{value(before.get('status'))} → {value(after.get('status'))}"
    return "updated: " + ", ".join(f for f, _o, _n in entry.change.fields)


def markdown(report: Report) -> str:
    lines = [f"# Official mailboxes — report as of {report.at_date.isoformat()}", "",
             f"Declarations at commit `{report.at.short}` ({report.at.date:%Y-%m-%d %H:%M} UTC, "
             f"{_cell(report.at.subject)}).",
             ""]
    mailboxes = report.desired.mailboxes()
    totals = Counter(m.status.value for m in mailboxes)
    lines += [f"{len(mailboxes)} mailboxes declared: {totals.get('active', 0)} active, "
              f"{totals.get('disabled', 0)} disabled, {totals.get('removed', 0)} removed.", ""]
    lines += ["## Per unit", "",
              "| Unit | Personal active | Personal disabled | Personal removed | Functional active | "
              "Functional disabled | Functional removed |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for unit, counts in report.counts().items():
        numbers = " | ".join(str(v) for v in counts.values())
        lines.append(f"| {_cell(report.units[unit])} ({md_code(unit)}) | {numbers} |")
    lines += ["", "## Functional mailboxes and their accountable owners", "",
              "| Address | Unit | Owner | Status |", "| --- | --- | --- | --- |"]
    lines += [f"| {md_code(m.address)} | {_cell(m.unit)} | {_cell(m.owner.name)} ({_cell(m.owner.id)}) | "
              f"{m.status.value} |"
              for m in mailboxes if m.kind is Kind.FUNCTIONAL]
    soon = expiring(report.desired, report.at_date, EXPIRY_WINDOW_DAYS)
    lines += ["", f"## Expiring within {EXPIRY_WINDOW_DAYS} days", ""]
    lines += (["| Address | Unit | Owner | Expires |", "| --- | --- | --- | --- |"]
              + [f"| {md_code(m.address)} | {_cell(m.unit)} | {_cell(m.owner.name)} | {_cell(m.expires)} |"
                 for m in soon]) if soon \
        else ["None."]
    period = f"since {report.since:%Y-%m-%d}" if report.since else "since the beginning"
    lines += ["", f"## Changes {period}", ""]
    if report.changes:
        lines += ["| Date | Address | Change | Ticket | Author | Pull request | Merged by | Live since |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for e in report.changes:
            merged = _cell(f"{e.merged.author} {e.merged.date:%Y-%m-%d}") if e.merged else ""
            pr = f"#{_cell(e.pr)}" if e.pr else ""
            lines.append(f"| {e.commit.date:%Y-%m-%d} | {md_code(e.change.address)} | {_cell(status_move(e))} | "
                         f"{_cell(e.ticket)} | {_cell(e.commit.author)} | {pr} | {merged} | "
                         f"{_cell(live_since(e))} |")
    else:
        lines.append("None.")
    lines += ["", "## All mailboxes", "", "| Unit | Address | Name | Kind | Owner | Status | Expires | Ticket |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in sorted(mailboxes, key=lambda m: (m.unit, m.address)):
        lines.append(f"| {_cell(m.unit)} | {md_code(m.address)} | {_cell(m.name)} | {m.kind.value} | "
                     f"{_cell(m.owner.name)} ({_cell(m.owner.id)}) | {m.status.value} | {_cell(m.expires)} | "
                     f"{_cell(m.ticket)} |")
    return "\n".join(safe_lines(lines)) + "\n"


def csv_text(report: Report) -> str:
    """One row per mailbox, as declared at the report's commit (spreadsheets open it directly)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MAILBOX_COLUMNS)
    for m in sorted(report.desired.mailboxes(), key=lambda m: (m.unit, m.address)):
        row = declaration(m)
        writer.writerow([_plain(row[c]) for c in MAILBOX_COLUMNS])
    return buffer.getvalue()


def _plain(item: object) -> str:
    return value(item, none="", empty="", separator=" ")


def json_text(report: Report) -> str:
    return json.dumps(report.to_json(), ensure_ascii=False, indent=2)
