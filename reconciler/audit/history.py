"""Mailbox history from git: who changed what, in which pull request, and when it reached the directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import git

from reconciler.audit.gitrepo import CommitInfo, GitRepo
from reconciler.audit.lifecycle import DIRECTORY_FIELDS, declaration, field_changes
from reconciler.audit.records import ApplyRecord
from reconciler.declarations import desired as desired_files
from reconciler.problems import ReconcilerError
from reconciler.textfmt import markup as _escape
from reconciler.textfmt import safe_lines
from reconciler.textfmt import value as _value

#: one apply record and its outcome for the mailbox
Application = tuple[ApplyRecord, dict[str, object]]


@dataclass(frozen=True, slots=True)
class MailboxChange:
    address: str
    before: dict[str, object] | None
    after: dict[str, object] | None

    @property
    def fields(self) -> list[tuple[str, object, object]]:
        return field_changes(self.before, self.after)

    @property
    def reaches_directory(self) -> bool:
        return any(name in DIRECTORY_FIELDS for name, _old, _new in self.fields)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    commit: CommitInfo
    merged: CommitInfo | None
    change: MailboxChange
    applied: list[Application] = field(default_factory=list)

    @property
    def pr(self) -> str | None:
        return self.commit.pr or (self.merged.pr if self.merged else None)

    @property
    def ticket(self) -> object:
        return (self.change.after or self.change.before or {}).get("ticket")


def _declarations(text: str | None, file: str, only: str | None) -> dict[str, dict[str, object]]:
    if text is None or (only is not None and only not in text.lower()):
        return {}
    unit, _doc, _problems = desired_files.parse_unit(text, file)
    if unit is None:
        return {}
    return {m.address.lower(): declaration(m) for m in unit.mailboxes}


def commit_changes(repo: GitRepo, commit: git.Commit, mailboxes_dir: str,
                   only: str | None = None) -> list[MailboxChange]:
    """Mailboxes whose declaration this commit changed (``only``: one lowercase address)."""
    parent = commit.parents[0] if commit.parents else None
    before: dict[str, dict[str, object]] = {}
    after: dict[str, dict[str, object]] = {}
    for path in repo.changed_files(commit, mailboxes_dir):
        if not path.endswith(desired_files.UNIT_FILE_SUFFIXES):
            continue
        before.update(_declarations(repo.blob_text(parent, path), path, only))
        after.update(_declarations(repo.blob_text(commit, path), path, only))
    keys = sorted((before.keys() | after.keys()) if only is None else {only} & (before.keys() | after.keys()))
    return [MailboxChange(str((after.get(k) or before.get(k) or {}).get("address", k)), before.get(k), after.get(k))
            for k in keys if before.get(k) != after.get(k)]


def apply_records(repo: GitRepo) -> list[ApplyRecord]:
    records = [r for _commit, text in repo.notes() for r in ApplyRecord.parse_note(text)]
    return sorted(records, key=lambda r: r.applied_at)


def applications(repo: GitRepo, commit: str, address: str, records: list[ApplyRecord]) -> list[Application]:
    found = []
    for record in records:
        outcome = record.outcome_for(address)
        if outcome is not None and record.commit and repo.is_ancestor(commit, record.commit):
            found.append((record, outcome))
            if outcome.get("outcome") == "ok":
                break
    return found


def history(repo: GitRepo, address: str, mailboxes_dir: str, rev: str = "HEAD") -> list[HistoryEntry]:
    key = address.lower()
    records = apply_records(repo)
    entries = []
    for commit in repo.commits_touching(mailboxes_dir, rev):
        for change in commit_changes(repo, commit, mailboxes_dir, only=key):
            applied = applications(repo, commit.hexsha, key, records) if change.reaches_directory else []
            entries.append(HistoryEntry(repo.info(commit), repo.merged_by(commit, rev), change, applied))
    return entries


def changes_between(repo: GitRepo, mailboxes_dir: str, rev: str, since: datetime | None) -> list[HistoryEntry]:
    """Every mailbox change committed on ``rev`` since ``since`` (oldest first)."""
    entries = []
    for commit in repo.commits_touching(mailboxes_dir, rev, since):
        info = repo.info(commit)
        merged = repo.merged_by(commit, rev)
        entries += [HistoryEntry(info, merged, change) for change in commit_changes(repo, commit, mailboxes_dir)]
    return entries


# -- rendering and the report's inputs ---------------------------------------------------------------


def applied_text(entry: HistoryEntry) -> str:
    if not entry.change.reaches_directory:
        return "no directory change (declaration only)"
    if not entry.applied:
        return "not yet applied"
    record, outcome = entry.applied[-1]
    where = f" by {record.actor}" + (f" ({record.run_url})" if record.run_url else "")
    if outcome.get("outcome") == "ok":
        return f"applied {record.applied_at}{where}: {outcome.get('action')}"
    return f"apply failed {record.applied_at}{where}: {outcome.get('error')}"


def commit_json(entry: HistoryEntry) -> dict[str, object]:
    """Who committed the change, in which pull request, merged by whom: shared by history and report."""
    return {
        "commit": entry.commit.sha,
        "date": entry.commit.date.isoformat(),
        "author": entry.commit.author,
        "subject": entry.commit.subject,
        "pr": entry.pr,
        "merged_by": entry.merged.author if entry.merged else None,
        "merged_at": entry.merged.date.isoformat() if entry.merged else None,
        "ticket": entry.ticket,
        "changes": [{"field": f, "old": old, "new": new} for f, old, new in entry.change.fields],
    }


def entry_json(entry: HistoryEntry) -> dict[str, object]:
    return {
        **commit_json(entry),
        "applied": [{"applied_at": r.applied_at, "actor": r.actor, "run_url": r.run_url, "commit": r.commit,
                     "action": o.get("action"), "outcome": o.get("outcome"), "error": o.get("error")}
                    for r, o in entry.applied],
    }


def text_lines(entries: list[HistoryEntry]) -> list[str]:
    lines: list[str] = []
    for entry in entries:
        pr = f" (PR #{entry.pr})" if entry.pr else ""
        merged = f", merged by {entry.merged.author} {entry.merged.date:%Y-%m-%d}" if entry.merged else ""
        lines.append(f"[bold]{entry.commit.date:%Y-%m-%d %H:%M}[/bold] [yellow]{entry.commit.short}[/yellow] "
                     f"{_escape(entry.commit.author)}: {_escape(entry.commit.subject)}{_escape(pr)}{_escape(merged)}")
        lines.append(f"    ticket: {_escape(_value(entry.ticket))}")
        for name, old, new in entry.change.fields:
            lines.append(f"    {_escape(name)}: {_escape(_value(old))} → {_escape(_value(new))}")
        lines.append(f"    [dim]{_escape(applied_text(entry))}[/dim]")
    return safe_lines(lines)


def resolve_point(repo: GitRepo, at: str | None) -> tuple[git.Commit, date]:
    """--at: a date (the end of that day, UTC) or a revision; the commit and the as-of date."""
    if at is None:
        return repo.head(), datetime.now(UTC).date()
    try:
        day = date.fromisoformat(at)
    except ValueError:
        commit = repo.commit(at)
        return commit, commit.committed_datetime.astimezone(UTC).date()
    end = datetime.combine(day, time(23, 59, 59), UTC)
    commit = repo.commit_at(end)
    if commit is None:
        raise ReconcilerError(f"--at {at}: no commit exists on or before that day")
    return commit, day


def period_start(since: str | None, as_of: date) -> datetime:
    if since is None:
        return datetime.combine(as_of - timedelta(days=30), time(0, 0), UTC)
    try:
        return datetime.combine(date.fromisoformat(since), time(0, 0), UTC)
    except ValueError:
        raise ReconcilerError(f"--since: '{since}' is not a date; write YYYY-MM-DD") from None
