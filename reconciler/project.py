"""The Python API: a repository of mailbox declarations and the directory it describes.

Every command of the ``reconciler`` CLI is a thin twin of a method here: the CLI parses options,
calls the method and renders what it returns. The methods return plain objects, never print and
never exit; a refusal or bad input is an exception (:class:`~reconciler.problems.ReconcilerError`,
or :class:`~reconciler.problems.InputError` carrying located problems).

>>> import reconciler
>>> project = reconciler.open("path/to/repository")          # reads reconciler.yaml there
>>> for problem in project.validate():                       # schema and policy problems
...     print(problem)
>>> planned = project.plan()                                  # reads the directory, changes nothing
>>> [(c.action.value, c.address) for c in planned.changes]
>>> applied = project.apply(planned)                          # refuses if the plan changed meanwhile

Modules that need a directory, git or a terminal library are imported by the methods that use
them, so that ``validate`` stays quick to start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler import settings as settings_file
from reconciler.audit.queries import AuditQueries
from reconciler.declarations.validation import Validation
from reconciler.i18n import _
from reconciler.model import Desired
from reconciler.problems import Problem, ReconcilerError
from reconciler.settings import Settings

if TYPE_CHECKING:
    from reconciler.audit.gitrepo import GitRepo
    from reconciler.clock import Clock
    from reconciler.credentials import Issued
    from reconciler.declarations.adopt import Imported
    from reconciler.declarations.suggest import Suggestion
    from reconciler.directory.base import Directory
    from reconciler.plan.apply import Outcome
    from reconciler.plan.result import Applied, Planned
    from reconciler.review.propose import ProposalResult
    from reconciler.review.run import Review

#: makes a progress callback for ``total`` steps, used as a context manager around the writes
ProgressFactory = Callable[[int], AbstractContextManager[Callable[[], None]]]

DEFAULT_SETTINGS_FILE = "reconciler.yaml"


class Cancelled(ReconcilerError):
    """The caller's ``confirm`` said no: nothing was changed."""


class Interrupted(ReconcilerError):
    """``should_stop`` turned true before the first write: nothing was changed."""


def open(path: str | Path = ".", config: str | Path | None = None, *, insecure: bool = False) -> Project:
    """Open the repository at ``path`` (settings from ``config``, default ``<path>/reconciler.yaml``).

    Environment overrides (``RECONCILER_LDAP_URL``, ``RECONCILER_BIND_DN``, ``RECONCILER_BIND_PASSWORD``
    or ``..._FILE``, ``RECONCILER_CA_FILE``) are applied. ``insecure`` allows a clear-text bind to a
    remote server. Raises InputError naming file, line and field when the settings are invalid.
    """
    settings_path = Path(config) if config is not None else Path(path) / DEFAULT_SETTINGS_FILE
    settings = settings_file.with_environment(settings_file.load(settings_path))
    return Project(settings, insecure=insecure)


class Project(AuditQueries):
    """One repository of mailbox declarations and its directory. See the module documentation."""

    def __init__(self, settings: Settings, *, insecure: bool = False) -> None:
        self.settings = settings
        self.insecure = insecure

    @property
    def root(self) -> Path:
        return self.settings.root

    def clock(self, now: datetime | None = None) -> Clock:
        """The one clock of every command, in the ``timezone`` setting (``now`` fixes it, for tests)."""
        return self.settings.clock(now)

    def now(self) -> datetime:
        return self.clock().now()

    def today(self) -> date:
        return self.clock().today()

    # -- declarations --------------------------------------------------------------------------------

    def validate(self, base: str | None = None, today: date | None = None, *, live: bool = False) -> Validation:
        """Schema and policy problems of every unit file (iterate over the result, or ask ``.ok``).

        ``base``: a git revision (a pull request's base) to check the lifecycle against, e.g. that no
        mailbox was deleted instead of tombstoned. ``today`` decides expiry (default: today in the
        ``timezone`` setting). ``live`` also reads the directory: no address or alias may be one another
        live account answers to, and with ``base`` an adopted account is declared as it is live.
        """
        from reconciler.declarations.validation import validate

        day = today or self.today()
        checks: list[Callable[[Desired], list[Problem]]] = []
        base_of: Callable[[Desired], Desired] | None = None
        if base is not None:
            from reconciler.audit import lifecycle

            repo = self._git()
            base_commit = repo.commit(base)  # an unknown revision is refused before any file is read
            folder = self.settings.mailboxes_dir

            def changed_since_base(head: Desired) -> list[Problem]:
                # The base's unit files that did not change are not parsed again, nor checked: each of their
                # mailboxes is in the work tree as it was.
                changed = repo.desired_at(base_commit, folder, reuse=head, changed_only=True)
                return lifecycle.lifecycle_problems(changed, head, today=day)

            checks.append(changed_since_base)
            base_of = partial(repo.desired_at, base_commit, folder)
        if live:
            checks.append(self._live_checks(day, base_of))
        extra = (lambda desired: [p for check in checks for p in check(desired)]) if checks else None
        return validate(self.settings, day, extra)

    def _live_checks(self, today: date, base_of: Callable[..., Desired] | None) -> Callable[[Desired], list[Problem]]:
        """Read the live directory once; the check it returns finds what the declarations may not do to it."""
        from reconciler.plan import apply as reconcile
        from reconciler.plan import diff as diffing

        directory = self._directory()
        try:
            live = reconcile.read_live_view(directory, self.settings).accounts
        finally:
            directory.close()

        def check(desired: Desired) -> list[Problem]:
            plan = diffing.diff(desired, live, today=today, grace_days=self.settings.policy.removal_grace_days,
                                tz=self.clock().tz)
            base = base_of(reuse=desired) if base_of is not None else None  # a partial of desired_at
            return reconcile.live_problems(desired, live, plan, base)

        return check

    def suggest_mailbox(self, full_name: str, unit: str, *, owner_id: str = "", ticket: str = "") -> Suggestion:
        """An address for ``full_name`` by the provincial convention, unique among declared addresses and aliases,
        and the unit-file entry that declares it."""
        from reconciler.declarations import suggest
        from reconciler.declarations.validation import validate

        desired = validate(self.settings, self.today()).desired
        return suggest.suggestion(desired, full_name, unit, self.settings.domains[0], self.settings.mailboxes_dir,
                                  owner_id=owner_id, ticket=ticket)

    # -- plan and apply ------------------------------------------------------------------------------

    def plan(self, base: str | None = None, *, now: datetime | None = None) -> Planned:
        """What apply would change in the directory; reads it and changes nothing.

        With ``base`` (a git revision), each change carries its ``origin``: ``change`` when the
        declarations differ between ``base`` and the work tree, ``drift`` when the directory differs
        from what ``base`` already declared.
        """
        from reconciler.plan import apply as reconcile

        clock = self.clock(now)
        base_of = None
        if base is not None:
            repo = self._git()
            base_commit = repo.commit(base)  # an unknown revision is refused before the directory is read
            # Read after the work tree: the base's unit files that did not change are not parsed again.
            base_of = partial(repo.desired_at, base_commit, self.settings.mailboxes_dir)
        directory = self._directory()
        try:
            computed = reconcile.compute(self.settings, directory, clock.today(), base=base_of)
        finally:
            directory.close()
        planned = self._planned(computed, directory)
        base_desired = computed.base
        if base_desired is None:
            return planned
        from reconciler.audit import lifecycle
        from reconciler.plan import display, safety, thresholds

        marked = lifecycle.mark_origins(computed.plan, computed.validation.desired, base_desired)
        # A reviewer sees what apply would refuse: the denominator is what the base already managed, and the
        # rolling window counts what recent applies took away.
        history = thresholds.apply_history(self.settings, computed.last_apply, reuse=computed.validation.desired)
        recent = safety.recent_taken_away(
            history.records, clock.now() - timedelta(days=self.settings.policy.threshold_window_days)) \
            if history is not None else 0
        refusals = safety.refusals(computed.plan, safety.managed_before(computed.live, base_desired),
                                   self.settings.policy, recent)
        return replace(planned, plan=marked, base=base, threshold_refusal=refusals[0] if refusals else None,
                       declaration_changes=tuple(display.declaration_only(computed.validation.desired, base_desired)))

    def apply(
        self,
        plan: Planned | str | Path | None = None,
        *,
        force: bool = False,
        dry_run: bool = False,
        break_lock: bool = False,
        allow_dirty: bool = False,
        scheduled: bool = False,
        confirm: Callable[[Applied], bool] | None = None,
        progress: ProgressFactory | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        now: datetime | None = None,
    ) -> Applied:
        """Make the directory match the declarations: creates and enables first, removals last.

        The plan is computed again under the apply lock; when ``plan`` is given (a :class:`Planned`
        or the path of a saved JSON plan) and the new one differs from it, nothing is written.
        Only a clean work tree at the tip of ``apply.branch`` is applied (``allow_dirty`` for local
        experiments, which are never recorded). ``scheduled`` applies only what fell due (removals past
        their grace period, disables of expired mailboxes), as the scheduled job does. ``confirm`` is
        asked before the first write (with ``.planned`` and ``.broken_lock`` filled in) and may refuse
        (:class:`Cancelled`). A failing
        mailbox does not stop the others: look at ``.failed`` of the result. When ``should_stop`` turns
        true (a signal), no further change is sent, the answers in flight are collected and the record
        says what was confirmed (``.result.interrupted``); ``force`` with ``break_lock`` breaks a lock
        whose holder looks alive. The apply record goes to
        git notes; ``.record_warning`` says why when it could not.
        """
        from reconciler.audit import provenance
        from reconciler.directory.ldiffile import default_holder
        from reconciler.plan import apply as reconcile
        from reconciler.plan import planfile, thresholds
        from reconciler.plan.result import Applied

        if isinstance(plan, (str, Path)):
            expected: str | None = planfile.read_checksum(Path(plan))
        else:
            expected = plan.checksum if plan is not None else None
        if dry_run and break_lock:
            raise ReconcilerError(_("--dry-run changes nothing, so it cannot --break-lock; run them separately"))
        source = provenance.check_source(self.settings, allow_dirty=allow_dirty)
        directory = self._directory()
        warnings: list[str] = []
        stop = should_stop or (lambda: False)
        with reconcile.apply_lock(directory, holder=default_holder(), take=not dry_run, break_stale=break_lock,
                                  warnings=warnings, force=force) as broken:
            # Disable times and grace periods follow the directory server's clock, shown in the timezone.
            clock = self.clock(reconcile.directory_clock(directory, pretend=now))
            moment = clock.now()
            computed = reconcile.prepare(self.settings, directory, clock.today(), expected_checksum=expected,
                                         force=force, scheduled=scheduled, now=moment,
                                         history=partial(thresholds.apply_history, self.settings))
            if stop():
                raise Interrupted(_("interrupted before any change; nothing was changed"))
            applied = Applied(self._planned(computed, directory), source, dry_run=dry_run, broken_lock=broken,
                              warnings=warnings)
            if not computed.plan.has_changes or dry_run:
                return applied
            if confirm is not None and not confirm(applied):
                raise Cancelled(_("apply cancelled; nothing was changed"))
            bar = progress(len(computed.plan.changes)) if progress else nullcontext(lambda: None)
            with bar as advance:
                def outcome_done(outcome: Outcome) -> None:
                    advance()
                    if on_outcome is not None:
                        on_outcome(outcome)

                applied.result, applied.record = reconcile.execute(
                    computed, self.settings, directory, source, now=moment, on_progress=outcome_done,
                    warnings=warnings, should_stop=stop)
        applied.record_warning = provenance.keep_record(source, applied.record)
        return applied

    def _planned(self, computed: object, directory: Directory) -> Planned:
        from reconciler.plan import safety
        from reconciler.plan.apply import Computed
        from reconciler.plan.result import Planned

        assert isinstance(computed, Computed)
        managed = computed.existing_managed  # counted once: a set of every declared address
        return Planned(computed.plan, computed.validation, directory.describe(), self.settings.directory.profile,
                       directory.base_dn, computed.last_apply, existing_managed=managed,
                       ignored=computed.view.ignored if computed.view is not None else 0,
                       threshold_refusal=safety.threshold_refusal(computed.plan, managed, self.settings.policy))

    # -- adoption --------------------------------------------------------------------------------------

    def import_(self, out_dir: str | Path | None = None) -> Imported:
        """Adopt live accounts no unit file declares: write them into unit files under ``out_dir`` (default
        the mailboxes folder), one file per live ``ou``, appending to an existing unit file where there is
        one. What the policy does not allow to declare is left out and listed; what the directory cannot
        know (an owner id, the kind) is left for a person to fill in, and listed."""
        from reconciler.declarations import adopt
        from reconciler.declarations.validation import validate
        from reconciler.plan import apply as reconcile

        desired = validate(self.settings, self.today()).desired
        directory = self._directory()
        try:
            view = reconcile.read_live_view(directory, self.settings, desired)
        finally:
            directory.close()
        target = Path(out_dir) if out_dir is not None else self.settings.mailboxes_path
        return adopt.write_unit_files(self.settings, desired, view, target)

    # -- review (rà soát) ------------------------------------------------------------------------------

    def review(self, as_of: date | None = None, *, idle_days: int = 90, expiring_days: int = 30,
               roster: str | Path | None = None, maillogs: Sequence[str | Path] = ()) -> Review:
        """The periodic review of every mailbox as of ``as_of`` (default: today in the ``timezone`` setting):
        idle and never-used accounts, expiry, disabled past the grace period, owners gone from the staff
        ``roster`` (CSV), social-network sign-ups in Postfix ``maillogs``, forwards to public providers.
        Reads only; each finding carries its evidence and a proposal."""
        from reconciler.review import run

        directory = self._directory()
        try:
            return run.run(self.settings, directory, as_of=as_of or self.today(),
                           idle_days=idle_days, expiring_days=expiring_days,
                           roster=Path(roster) if roster is not None else None,
                           maillogs=[Path(p) for p in maillogs])
        finally:
            directory.close()

    def propose_review(self, review: Review, branch: str) -> ProposalResult:
        """Commit ``review``'s proposal on the new git branch ``branch`` (never the current one): the
        mailboxes it proposes to disable set to ``status: disabled`` with a review note, and the review's
        record under ``reviews/``. Findings that need a person are listed, not changed."""
        from reconciler.review import propose

        return propose.propose(self.settings, review, branch)

    # -- credentials -----------------------------------------------------------------------------------

    def issue_credentials(self, address: str) -> Issued:
        """Set a random one-time password on the active managed mailbox ``address`` and return it (shown
        once by the caller; never stored anywhere else). The directory requires a change at first use.
        Who issued it, for which address and when (never the password) is appended to the apply records;
        ``.record_warning`` says why when that record could not be kept."""
        from reconciler import credentials
        from reconciler.audit import provenance

        clock = self.clock()
        directory = self._directory()
        try:
            issued = credentials.issue(self.settings, directory, address, clock=clock.now)
        finally:
            directory.close()
        warning = provenance.keep_credentials_record(self.root, address=issued.address,
                                                     issued_at=clock.json_time(issued.issued_at),
                                                     directory=directory.describe())
        return replace(issued, record_warning=warning)

    # -- edges -----------------------------------------------------------------------------------------

    def _directory(self) -> Directory:
        from reconciler.directory import open_directory

        return open_directory(self.settings, insecure=self.insecure)

    def _git(self) -> GitRepo:
        from reconciler.audit.gitrepo import GitRepo

        return GitRepo(self.settings.root)
