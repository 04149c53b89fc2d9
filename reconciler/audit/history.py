"""Mailbox history from git: who changed what, in which pull request, and when it reached the directory."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import git

from reconciler.audit.gitrepo import NOTES_FULL_REF, CommitInfo, GitRepo
from reconciler.audit.lifecycle import DIRECTORY_FIELDS, declaration, field_changes
from reconciler.audit.records import ApplyRecord
from reconciler.clock import Clock
from reconciler.declarations import desired as desired_files
from reconciler.i18n import N_, _
from reconciler.problems import ReconcilerError
from reconciler.textfmt import markup as _escape
from reconciler.textfmt import safe_lines
from reconciler.textfmt import value as _value

#: how a clone gets the apply records it lacks
FETCH_RECORDS = "git fetch origin 'refs/notes/*:refs/notes/*'"
RECORDS_MISSING = N_("this clone has no apply records ({ref}): whether changes reached the directory is "
                     "unknown here; fetch them with: {fetch}")


def records_missing() -> str:
    """The note that this clone lacks the apply records, in the current language."""
    return _(RECORDS_MISSING).format(ref=NOTES_FULL_REF, fetch=FETCH_RECORDS)

MERGE = "merge"
SQUASH = "squash"
DIRECT = "direct"

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
    #: False when this clone lacks the apply records: "not applied" would then be a guess
    records_known: bool = True

    @property
    def pr(self) -> str | None:
        if self.merged is not None:
            return self.merged.pr or self.commit.pr
        return self.commit.pr

    @property
    def attribution(self) -> str:
        """How the change reached the branch: a pull request's merge commit, a squash merge (its own
        commit, "Subject (#8)"), or a commit made directly on the branch."""
        if self.merged is not None:
            return MERGE
        return SQUASH if self.commit.pr else DIRECT

    @property
    def merged_by(self) -> str | None:
        if self.merged is not None:
            return self.merged.author
        return (self.commit.committer or self.commit.author) if self.attribution == SQUASH else None

    @property
    def merged_at(self) -> datetime | None:
        if self.merged is not None:
            return self.merged.date
        return self.commit.date if self.attribution == SQUASH else None

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


def resolve_address(repo: GitRepo, address: str, mailboxes_dir: str, rev: str = "HEAD") -> str:
    """The mailbox ``address`` names: itself, or the mailbox that declares it as an alias at ``rev``."""
    key = address.strip().lower()
    for mailbox in repo.desired_at(repo.commit(rev), mailboxes_dir).mailboxes():
        if mailbox.address.lower() == key:
            return mailbox.address
        if key in (a.lower() for a in mailbox.aliases):
            return mailbox.address
    return address.strip()


def history(repo: GitRepo, address: str, mailboxes_dir: str, rev: str = "HEAD") -> list[HistoryEntry]:
    key = address.lower()
    records = apply_records(repo)
    known = repo.has_apply_records()
    entries = []
    for commit in repo.commits_touching(mailboxes_dir, rev):
        for change in commit_changes(repo, commit, mailboxes_dir, only=key):
            applied = applications(repo, commit.hexsha, key, records) if change.reaches_directory else []
            entries.append(HistoryEntry(repo.info(commit), repo.merged_by(commit, rev), change, applied, known))
    return entries


def changes_between(repo: GitRepo, mailboxes_dir: str, rev: str, since: datetime | None) -> list[HistoryEntry]:
    """Every mailbox change committed on ``rev`` since ``since`` (oldest first)."""
    entries = []
    known = repo.has_apply_records()
    for commit in repo.commits_touching(mailboxes_dir, rev, since):
        info = repo.info(commit)
        merged = repo.merged_by(commit, rev)
        entries += [HistoryEntry(info, merged, change, records_known=known)
                    for change in commit_changes(repo, commit, mailboxes_dir)]
    return entries


# -- rendering and the report's inputs ---------------------------------------------------------------


def applied_text(entry: HistoryEntry, clock: Clock | None = None) -> str:
    clock = clock or Clock()
    if not entry.change.reaches_directory:
        return _("no directory change (declaration only)")
    if not entry.applied:
        return _("not yet applied") if entry.records_known else \
            _("unknown: apply records not fetched ({fetch})").format(fetch=FETCH_RECORDS)
    record, outcome = entry.applied[-1]
    where = " " + _("by {actor}").format(actor=record.actor) + (f" ({record.run_url})" if record.run_url else "")
    when = clock.time_text_of(record.applied_at)
    if outcome.get("outcome") == "ok":
        reason = f" ({outcome['reason']})" if outcome.get("reason") else ""
        reread = " " + _("(confirmed by re-reading the directory)") if outcome.get("verified") == "reread" else ""
        return _("applied {when}{where}: {action}").format(when=when, where=where,
                                                           action=_(str(outcome.get("action")))) + reason + reread
    if outcome.get("outcome") == "unknown":
        return _("outcome unknown {when}{where}: {error}").format(when=when, where=where, error=outcome.get("error"))
    if outcome.get("outcome") == "not-sent":
        return _("not applied {when}{where}: the apply was interrupted before this change").format(
            when=when, where=where)
    return _("apply failed {when}{where}: {error}").format(when=when, where=where, error=outcome.get("error"))


def attribution_text(entry: HistoryEntry, clock: Clock, branch: str = "main") -> str:
    """Which pull request brought the change, approved by whom and when; or that none did."""
    if entry.attribution == DIRECT:
        return _("committed directly to {branch} (no pull request)").format(branch=branch)
    pr = _("PR #{number}").format(number=entry.pr) if entry.pr else _("a pull request")
    how = (_("{pr}, squash-merged by {person} {when}") if entry.attribution == SQUASH
           else _("{pr}, merged by {person} {when}"))
    at = clock.time_text(entry.merged_at) if entry.merged_at else ""
    return how.format(pr=pr, person=entry.merged_by, when=at).rstrip()


def commit_json(entry: HistoryEntry, clock: Clock | None = None) -> dict[str, object]:
    """Who committed the change, in which pull request, merged by whom: shared by history and report."""
    clock = clock or Clock()
    return {
        "commit": entry.commit.sha,
        "date": clock.json_time(entry.commit.date),
        "author": entry.commit.author,
        "subject": entry.commit.subject,
        "pr": entry.pr,
        "attribution": entry.attribution,
        "merged_by": entry.merged_by,
        "merged_at": clock.json_time(entry.merged_at) if entry.merged_at else None,
        "ticket": entry.ticket,
        "changes": [{"field": f, "old": old, "new": new} for f, old, new in entry.change.fields],
    }


def entry_json(entry: HistoryEntry, clock: Clock | None = None) -> dict[str, object]:
    return {
        **commit_json(entry, clock),
        "applied": [{"applied_at": r.applied_at, "actor": r.actor, "run_url": r.run_url, "commit": r.commit,
                     "action": o.get("action"), "outcome": o.get("outcome"), "error": o.get("error"),
                     **({"verified": o["verified"]} if o.get("verified") else {})}
                    for r, o in entry.applied],
    }


def alias_asked(asked: str, mailbox: str) -> str | None:
    """``asked`` when it named the mailbox by one of its aliases (the history shown is ``mailbox``'s)."""
    return asked if mailbox.lower() != asked.strip().lower() else None


def to_json(mailbox: str, entries: list[HistoryEntry], clock: Clock | None = None, *,
            asked: str | None = None) -> dict[str, object]:
    """``history --format json`` (``format_version`` 1): the mailbox, the alias it was asked for by (or
    null), whether this clone holds the apply records, and every entry."""
    return {"format_version": 1, "address": mailbox, "alias": alias_asked(asked, mailbox) if asked else None,
            "apply_records_fetched": entries[0].records_known if entries else True,
            "history": [entry_json(e, clock) for e in entries]}


def json_text(mailbox: str, entries: list[HistoryEntry], clock: Clock | None = None, *,
              asked: str | None = None) -> str:
    return json.dumps(to_json(mailbox, entries, clock, asked=asked), ensure_ascii=False, indent=2)


def text_lines(entries: list[HistoryEntry], clock: Clock | None = None, branch: str = "main") -> list[str]:
    clock = clock or Clock()
    lines: list[str] = []
    if entries and not entries[0].records_known:
        lines.append("[yellow]" + _escape(_("note:")) + f"[/yellow] {_escape(records_missing())}")
    for entry in entries:
        lines.append(f"[bold]{clock.time_text(entry.commit.date)}[/bold] [yellow]{entry.commit.short}[/yellow] "
                     f"{_escape(entry.commit.author)}: {_escape(entry.commit.subject)} — "
                     f"{_escape(attribution_text(entry, clock, branch))}")
        lines.append("    " + _escape(_("ticket: {ticket}").format(ticket=_value(entry.ticket))))
        for name, old, new in entry.change.fields:
            lines.append(f"    {_escape(_field(name))}: {_escape(_shown(old))} → {_escape(_shown(new))}")
        lines.append(f"    [dim]{_escape(applied_text(entry, clock))}[/dim]")
    return safe_lines(lines)


def _field(name: str) -> str:
    from reconciler.plan.render import field_label  # the one list of field names for people

    return field_label(name)


def _shown(item: object) -> str:
    from reconciler.plan.render import format_value  # status and kind words translated, as in the plan

    return format_value(item)


def resolve_point(repo: GitRepo, at: str | None, clock: Clock | None = None) -> tuple[git.Commit, date]:
    """--at: a date (the end of that day, in the clock's zone) or a revision; the commit and the as-of date."""
    clock = clock or Clock()
    if at is None:
        return repo.head(), clock.today()
    try:
        day = date.fromisoformat(at)
    except ValueError:
        commit = repo.commit(at)
        return commit, clock.day_of(commit.committed_datetime)
    end = clock.end_of_day(day)
    commit = repo.commit_at(end)
    if commit is None:
        raise ReconcilerError(_("--at {at}: no commit exists on or before that day").format(at=at))
    return commit, day


def period_start(since: str | None, as_of: date, clock: Clock | None = None) -> datetime:
    clock = clock or Clock()
    if since is None:
        return clock.start_of_day(as_of - timedelta(days=30))
    try:
        return clock.start_of_day(date.fromisoformat(since))
    except ValueError:
        raise ReconcilerError(_("--since: '{since}' is not a date; write YYYY-MM-DD").format(since=since)) from None
