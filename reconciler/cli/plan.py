"""`reconciler plan`: what apply would change in the directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli.app import (
    BaseOption,
    ConfigOption,
    InsecureOption,
    NowOption,
    PlanFormat,
    app,
    guarded,
    load_settings,
    parse_now,
    write_text,
)
from reconciler.settings import Settings

if TYPE_CHECKING:  # the command imports what it needs when it runs: `validate` must not pay for it
    from reconciler.directory.base import Directory
    from reconciler.plan import apply as reconcile


def plan_header(settings: Settings, directory: Directory, computed: reconcile.Computed) -> list[str]:
    lines = [f"Directory: {directory.describe()} (profile {settings.directory.profile}, base {directory.base_dn})"]
    marker = computed.last_apply
    if marker is not None:
        commit = marker.data.get("commit")
        source = f"from commit {str(commit)[:12]}" if commit else "from a local experiment (not a reviewed commit)"
        failed = marker.data.get("failed")
        outcome = f" ({failed} of {marker.data.get('changes')} changes failed)" if failed else ""
        lines.append(f"Last applied: {marker.data.get('applied_at', '?')} {source}{outcome}")
    else:
        lines.append("Last applied: never (no apply record in the directory)")
    return lines


@app.command()
@guarded
def plan(
    format: Annotated[PlanFormat, typer.Option("--format", help="text, markdown (PR comment) or json")]
    = PlanFormat.text,
    out: Annotated[Path | None, typer.Option("--out", help="Also save the JSON plan to this file.")] = None,
    detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode",
                                                    help="Exit 2 when there are changes.")] = False,
    base: BaseOption = None,
    insecure: InsecureOption = False,
    now: NowOption = None,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Show what apply would change in the directory (read-only)."""
    from reconciler.audit import lifecycle as audit
    from reconciler.directory import open_directory
    from reconciler.plan import apply as reconcile
    from reconciler.plan import planfile, render

    settings = load_settings(config)
    moment = parse_now(now)
    repo = None
    if base:
        from reconciler.audit.gitrepo import GitRepo  # gitpython: only with --base

        repo = GitRepo(settings.root)
    base_commit = repo.commit(base) if repo is not None and base else None  # refused before the directory is read
    directory = open_directory(settings, insecure=insecure)
    try:
        computed = reconcile.compute(settings, directory, moment.date())
    finally:
        directory.close()
    header = plan_header(settings, directory, computed)
    plan = computed.plan
    sections = None
    if repo is not None and base_commit is not None:
        # After validation: the base's unit files that did not change are taken from the work tree's.
        base_desired = repo.desired_at(base_commit, settings.mailboxes_dir, reuse=computed.validation.desired)
        plan = audit.mark_origins(plan, computed.validation.desired, base_desired)
        header.append(f"Compared with {base}: changes this pull request asks for are marked 'change', "
                      "differences already there are 'drift'")
        sections = {"Changes in this pull request": [c for c in plan.changes if c.origin == audit.CHANGE],
                    "Drift": [c for c in plan.changes if c.origin == audit.DRIFT]}
    if out is not None:
        write_text(out, planfile.dumps(plan) + "\n")
    if format is PlanFormat.json:
        typer.echo(planfile.dumps(plan))
    elif format is PlanFormat.markdown:
        typer.echo(render.markdown(plan, header, sections), nl=False)
    else:
        from reconciler.cli.terminal import Terminal  # rich: only for text on a terminal or a log

        Terminal().lines(render.text_lines(plan, header))
    if detailed_exitcode and plan.has_changes:
        raise typer.Exit(2)


