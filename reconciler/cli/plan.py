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
    open_project,
    parse_now,
    write_text,
)
from reconciler.i18n import _, ngettext

if TYPE_CHECKING:  # the command imports what it needs when it runs: `validate` must not pay for it
    from reconciler.clock import Clock
    from reconciler.plan.result import Planned


def plan_header(planned: Planned, clock: Clock | None = None) -> list[str]:
    from reconciler.clock import Clock

    lines = [_("Directory: {directory} (profile {profile}, base {base_dn})").format(
        directory=planned.directory, profile=planned.profile, base_dn=planned.base_dn)]
    marker = planned.last_apply
    if marker is not None:
        commit = marker.data.get("commit")
        source = (_("from commit {commit}").format(commit=str(commit)[:12]) if commit
                  else _("from a local experiment (not a reviewed commit)"))
        failed = marker.data.get("failed")
        outcome = (" " + _("({failed} of {changes} changes failed)").format(
            failed=failed, changes=marker.data.get("changes"))) if failed else ""
        lines.append(_("Last applied: {when} {source}{outcome}").format(
            when=(clock or Clock()).time_text_of(str(marker.data.get("applied_at") or "")) or "?", source=source,
            outcome=outcome))
    else:
        lines.append(_("Last applied: never (no apply record in the directory)"))
    if planned.ignored:
        lines.append(ngettext("directory.ignore keeps {count} entry out of this plan",
                              "directory.ignore keeps {count} entries out of this plan",
                              planned.ignored).format(count=planned.ignored))
    if planned.base is not None:
        lines.append(_("Compared with {base}: changes this pull request asks for are marked 'change', "
                       "differences already there are 'drift'").format(base=planned.base))
    return lines


@app.command()
@guarded
def plan(
    format: Annotated[PlanFormat, typer.Option("--format", help="text, markdown (PR comment) or json")]
    = PlanFormat.text,
    out: Annotated[Path | None, typer.Option("--out", help="Also save the JSON plan to this file.")] = None,
    detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode",
                                                    help="Exit 2 when there are changes or policy "
                                                         "violations in the live directory.")] = False,
    base: BaseOption = None,
    insecure: InsecureOption = False,
    now: NowOption = None,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Show what apply would change in the directory (read-only)."""
    from reconciler.audit import lifecycle
    from reconciler.plan import planfile, render

    project = open_project(config, insecure=insecure)
    planned = project.plan(base, now=parse_now(now))
    header = plan_header(planned, project.clock())
    plan = planned.plan
    split = planned.sections()
    sections = waiting = drift = None
    if split is not None:
        titles = {lifecycle.CHANGE: _("Changes in this pull request"), lifecycle.DRIFT: _("Drift"),
                  lifecycle.SCHEDULED: _("Due now or later (decided earlier)")}
        sections = {titles[origin]: changes for origin, changes in split.changes.items()}
        waiting = {titles[origin]: deferred for origin, deferred in split.waiting.items()}
        drift = split.drift
    if out is not None:
        write_text(out, planfile.dumps(plan) + "\n")
    if format is PlanFormat.json:
        typer.echo(planfile.dumps(plan))
    elif format is PlanFormat.markdown:
        typer.echo(render.markdown(plan, header, sections, waiting,
                                   declaration_changes=planned.declaration_changes if planned.base else None,
                                   threshold=planned.threshold_refusal, drift=drift), nl=False)
    else:
        from reconciler.cli.terminal import Terminal  # rich: only for text on a terminal or a log

        Terminal().lines(render.text_lines(plan, header))
    if detailed_exitcode and plan.needs_attention:
        raise typer.Exit(2)
