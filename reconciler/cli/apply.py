"""`reconciler apply`: make the directory match the declarations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import (
    ConfigOption,
    InsecureOption,
    NowOption,
    app,
    guarded,
    load_settings,
    parse_now,
)
from reconciler.cli.plan import plan_header
from reconciler.problems import ReconcilerError


@app.command()
@guarded
def apply(
    plan_file: Annotated[Path | None, typer.Option("--plan", help="Refuse unless the plan equals this saved one.")]
    = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation (CI).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Apply even when the disable threshold is exceeded.")]
    = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan and the safety checks, change nothing.")]
    = False,
    break_lock: Annotated[bool, typer.Option("--break-lock", help="Remove a stale apply lock first.")] = False,
    allow_dirty: Annotated[bool, typer.Option("--allow-dirty", help="Local experiments: allow uncommitted "
                                              "changes or a commit off apply.branch (no apply record).")] = False,
    insecure: InsecureOption = False,
    now: NowOption = None,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Make the directory match the declarations: creates and enables first, removals last."""
    from reconciler.audit import provenance
    from reconciler.cli.terminal import Terminal
    from reconciler.directory import open_directory
    from reconciler.directory.ldiffile import default_holder
    from reconciler.plan import apply as reconcile
    from reconciler.plan import planfile, render

    settings = load_settings(config)
    moment = parse_now(now)
    expected = planfile.read_checksum(plan_file) if plan_file else None
    if dry_run and break_lock:
        raise ReconcilerError("--dry-run changes nothing, so it cannot --break-lock; run them separately")
    source = provenance.check_source(settings, allow_dirty=allow_dirty)
    terminal = Terminal()
    directory = open_directory(settings, insecure=insecure)
    with reconcile.apply_lock(directory, holder=default_holder(), take=not dry_run, break_stale=break_lock) as broken:
        if broken is not None:
            terminal.note(f"broke the apply lock ({broken.describe()})" if broken else "no apply lock was held")
        computed = reconcile.prepare(settings, directory, moment.date(), expected_checksum=expected, force=force)
        plan = computed.plan
        terminal.lines(render.text_lines(plan, plan_header(settings, directory, computed)))
        if not plan.has_changes:
            return
        if dry_run:
            terminal.note("dry run: nothing was changed")
            return
        if not yes:
            if not terminal.interactive:
                raise ReconcilerError("standard input is not a terminal: pass --yes to apply without confirmation")
            if not typer.confirm(f"Apply {len(plan.changes)} change(s) to {directory.describe()}?", default=False):
                raise ReconcilerError("apply cancelled; nothing was changed")
        with terminal.progress(len(plan.changes), "Applying") as advance:
            result, record = reconcile.execute(computed, settings, directory, source, now=moment,
                                               on_progress=lambda _outcome: advance())
    counts = ", ".join(f"{n} {action}" for action, n in result.counts().items()) or "nothing"
    terminal.note(f"Applied: {counts} (from {source.describe()}).")
    for outcome in result.failed:
        terminal.error(f"{outcome.change.action.value} {outcome.change.address}: {outcome.error}")
    warning = provenance.keep_record(source, record)
    if warning:
        terminal.error(f"the apply record was not kept in git: {warning}")
    if result.failed:
        raise ReconcilerError(f"{len(result.failed)} of {len(result.outcomes)} change(s) failed; the others were "
                              "applied. Fix the cause and run apply again")
    if warning:
        raise typer.Exit(1)


