"""`reconciler apply`: make the directory match the declarations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli.app import ConfigOption, InsecureOption, NowOption, app, guarded, open_project, parse_now
from reconciler.cli.plan import plan_header
from reconciler.cli.signals import StopRequests
from reconciler.i18n import _
from reconciler.problems import ReconcilerError

if TYPE_CHECKING:  # the command imports what it needs when it runs: `validate` must not pay for it
    from reconciler.cli.terminal import Terminal
    from reconciler.plan.apply import ApplyResult
    from reconciler.plan.result import Applied


@app.command()
@guarded
def apply(
    plan_file: Annotated[Path | None, typer.Option("--plan", help="Refuse unless the plan equals this saved one.")]
    = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation (CI).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Apply even when the disable threshold is exceeded; "
                                        "with --break-lock, break a lock whose holder looks alive.")]
    = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan and the safety checks, change nothing.")]
    = False,
    break_lock: Annotated[bool, typer.Option("--break-lock", help="Remove a stale apply lock first.")] = False,
    scheduled: Annotated[bool, typer.Option("--scheduled", help="Apply only what fell due: removals past their "
                                            "grace period, disables of expired mailboxes (the scheduled job).")]
    = False,
    allow_dirty: Annotated[bool, typer.Option("--allow-dirty", help="Local experiments: allow uncommitted "
                                              "changes or a commit off apply.branch (no apply record).")] = False,
    insecure: InsecureOption = False,
    now: NowOption = None,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Make the directory match the declarations: creates and enables first, removals last."""
    from reconciler.cli.terminal import Terminal
    from reconciler.plan import render
    from reconciler.project import Interrupted

    terminal = Terminal()
    project = open_project(config, insecure=insecure)

    def show(applied: Applied) -> None:
        if applied.broken_lock is not None:
            found = applied.broken_lock
            terminal.note(_("broke the apply lock ({lock})").format(lock=found.describe()) if found
                          else _("no apply lock was held"))
        terminal.lines(render.text_lines(applied.planned.plan, plan_header(applied.planned, project.clock())))

    def confirm(applied: Applied) -> bool:
        show(applied)
        if yes:
            return True
        if not terminal.interactive:
            raise ReconcilerError(_("standard input is not a terminal: pass --yes to apply without confirmation"))
        with stop.raising():
            return typer.confirm(_("Apply {count} change(s) to {directory}?").format(
                count=len(applied.planned.changes), directory=applied.planned.directory), default=False)

    stop = StopRequests()
    try:
        with stop.installed():
            applied = project.apply(plan_file, force=force, dry_run=dry_run, break_lock=break_lock,
                                    allow_dirty=allow_dirty, scheduled=scheduled, confirm=confirm,
                                    progress=lambda total: terminal.progress(total, _("Applying")),
                                    should_stop=stop, now=parse_now(now))
    except Interrupted:
        raise ReconcilerError(_("interrupted ({signal}) before any change; nothing was changed").format(
            signal=stop.name)) from None
    if applied.result is None:  # nothing to do, or a dry run: confirm was not asked, so show the plan now
        show(applied)
        if applied.dry_run and applied.planned.has_changes:
            terminal.note(_("dry run: nothing was changed"))
        _warn(terminal, applied.warnings)
        return
    counts = ", ".join(f"{n} {_(str(action))}" for action, n in applied.counts().items()) or _("nothing")
    terminal.note(_("Applied: {counts} (from {source}).").format(counts=counts, source=applied.source.describe()))
    if applied.result.interrupted:
        _warn(terminal, applied.warnings)
        if applied.record_warning:
            terminal.warning(_("the apply record was not kept in git: {reason}").format(reason=applied.record_warning))
        raise ReconcilerError(interrupted_line(stop.name, applied.result))
    for outcome in applied.failed:
        terminal.error(_("{action} {address}: {error}").format(action=_(outcome.change.action.value),
                                                               address=outcome.change.address, error=outcome.error))
    done = {o.change.address.lower() for o in applied.outcomes if o.ok}
    for reminder in applied.planned.plan.reminders:
        if reminder.address.lower() in done:
            terminal.note(_("credentials: {message}").format(message=reminder.message))
    _warn(terminal, applied.warnings)
    if applied.record_warning:
        terminal.error(_("the apply record was not kept in git: {reason}").format(reason=applied.record_warning))
    if applied.failed:
        raise ReconcilerError(_("{failed} of {total} change(s) failed; the others were applied. Fix the cause and "
                                "run apply again").format(failed=len(applied.failed), total=len(applied.outcomes)))
    if applied.record_warning:
        raise typer.Exit(1)


def _warn(terminal: Terminal, warnings: list[str]) -> None:
    for warning in warnings:
        terminal.warning(warning)


def interrupted_line(signal_name: str, result: ApplyResult) -> str:
    applied = len(result.applied)
    total = len(result.outcomes)
    if applied == 0:
        return _("interrupted ({signal}): no change was made to the directory ({total} planned); run "
                 "`reconciler apply` again to apply them").format(signal=signal_name, total=total)
    return _("interrupted ({signal}): the directory was partly changed ({applied} of {total} change(s) "
             "applied and recorded); run `reconciler apply` again to finish").format(
        signal=signal_name, applied=applied, total=total)
