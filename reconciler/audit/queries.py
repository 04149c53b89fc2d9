"""The auditor's questions of a project, answered from git and the live directory: the methods of
:class:`reconciler.Project` that only read (history, report, summary, the live view)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.clock import date_text
from reconciler.i18n import _
from reconciler.problems import ReconcilerError
from reconciler.settings import Settings

if TYPE_CHECKING:
    from reconciler.audit.gitrepo import GitRepo
    from reconciler.audit.history import HistoryEntry
    from reconciler.audit.livereport import LiveReport
    from reconciler.audit.report import Report
    from reconciler.audit.summary import Summary
    from reconciler.clock import Clock
    from reconciler.directory.base import Directory


class AuditQueries:
    """Read-only questions; the Project provides its settings, clock, directory and git repository."""

    settings: Settings
    clock: Callable[..., Clock]
    now: Callable[[], datetime]
    _directory: Callable[[], Directory]
    _git: Callable[[], GitRepo]

    def live_report(self, *, now: datetime | None = None) -> LiveReport:
        """What the live directory holds now, per unit: forwards and aliases outside the province, unmanaged
        accounts, disabled accounts and since when. Reads only."""
        from reconciler.audit import livereport
        from reconciler.declarations.validation import validate
        from reconciler.plan import apply as reconcile

        clock = self.clock(now)
        moment = clock.now()
        # Declarations that do not validate still say which accounts are managed and what the units are called.
        desired = validate(self.settings, clock.today()).desired
        directory = self._directory()
        try:
            view = reconcile.read_live_view(directory, self.settings, desired)
        finally:
            directory.close()
        return livereport.build(view, (m.address.lower() for m in desired.mailboxes()),
                                reconcile.unit_names(desired), domains=self.settings.domains,
                                public_mail_domains=self.settings.policy.public_mail_domains, now=moment,
                                directory=directory.describe(), clock=clock)

    # -- audit -----------------------------------------------------------------------------------------

    def history(self, address: str, rev: str = "HEAD") -> list[HistoryEntry]:
        """Every commit that changed the mailbox ``address`` (or the mailbox it is an alias of), oldest first,
        with its pull request, ticket, field changes and the apply records that carried it to the directory."""
        from reconciler.audit import history

        repo = self._git()
        mailbox = history.resolve_address(repo, address, self.settings.mailboxes_dir, rev)
        entries = history.history(repo, mailbox, self.settings.mailboxes_dir, rev)
        if not entries:
            raise ReconcilerError(_("no commit declares {address} under {folder}/").format(
                address=address, folder=self.settings.mailboxes_dir))
        return entries

    def resolve_address(self, address: str, rev: str = "HEAD") -> str:
        """The mailbox ``address`` names: itself, or the mailbox it is an alias of."""
        from reconciler.audit import history

        return history.resolve_address(self._git(), address, self.settings.mailboxes_dir, rev)

    def report(self, at: str | None = None, since: str | None = None) -> Report:
        """The declared state at ``at`` (a date ``YYYY-MM-DD``, end of that day, or a git revision; default
        now) and the changes committed since ``since`` (default 30 days before)."""
        from reconciler.audit import history, report

        repo = self._git()
        clock = self.clock()
        commit, as_of = history.resolve_point(repo, at, clock)
        return report.build(repo, commit, as_of, history.period_start(since, as_of, clock),
                            self.settings.mailboxes_dir, clock=clock)

    def summary(self, at: str | None = None, since: str | None = None, *, roster: str | Path | None = None,
                live: bool = False) -> Summary:
        """The figures a province reports to the Ministry, per unit and in total, at ``at``: mailboxes by
        status and kind, created and removed since ``since``, staff (from the ``roster`` CSV or the unit
        files' ``staff``) with an active mailbox, and with ``live`` the share used in the last 30 days
        (last logins read from the directory)."""
        from reconciler.audit import history, summary
        from reconciler.review import roster as roster_file

        repo = self._git()
        clock = self.clock()
        commit, as_of = history.resolve_point(repo, at, clock)
        staff = list(roster_file.load(Path(roster)).people.values()) if roster is not None else None
        logins = None
        if live:
            from reconciler.plan import apply as reconcile

            # Last logins are a fact of today: a past report cannot be measured with them.
            if as_of != clock.today():
                raise ReconcilerError(_("--live measures use from today's last logins; it cannot describe "
                                        "{date}: leave out --at, or leave out --live").format(
                    date=date_text(as_of)))
            if self.settings.directory.url.startswith("ldif:"):
                raise ReconcilerError(_("--live needs the LDAP server: the embedded directory records no "
                                        "logins (slapd records them with olcLastBind, see contrib/)"))
            directory = self._directory()
            try:
                logins = reconcile.read_live(directory, reconcile.profile_of(self.settings))
            finally:
                directory.close()
        return summary.build(repo, commit, as_of, history.period_start(since, as_of, clock),
                             self.settings.mailboxes_dir, roster=staff, last_logins=logins, clock=clock)
