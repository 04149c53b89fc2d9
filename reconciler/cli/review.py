"""`reconciler review` (rà soát): find mailboxes no longer needed or used against the rules."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import ConfigOption, InsecureOption, app, guarded, open_project
from reconciler.i18n import _
from reconciler.problems import ReconcilerError


class ReviewFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"
    csv = "csv"


def parse_as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReconcilerError(_("--as-of: '{value}' is not a date; write YYYY-MM-DD").format(value=value)) from None


@app.command()
@guarded
def review(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Review as of this date (YYYY-MM-DD); default: "
                                              "today in the configured time zone.")] = None,
    idle_days: Annotated[int, typer.Option("--idle-days", min=0, help="Idle after this many days without a "
                                           "login (and never used: created this long ago, no login).")] = 90,
    expiring_days: Annotated[int, typer.Option("--expiring-days", min=0,
                                               help="Report mailboxes expiring within this many days.")] = 30,
    roster: Annotated[Path | None, typer.Option("--roster", help="The HR staff roster, CSV: id,name,unit[,left_on] "
                                                "(or mã,họ tên,đơn vị,ngày nghỉ).")] = None,
    maillog: Annotated[list[Path] | None, typer.Option("--maillog", help="A Postfix mail log, plain or .gz "
                                                       "(repeat for several).")] = None,
    format: Annotated[ReviewFormat, typer.Option("--format", help="text, markdown (pull request body), json or "
                                                 "csv")] = ReviewFormat.text,
    propose: Annotated[str | None, typer.Option("--propose", help="Write the proposal on this new git branch: "
                                                "disables with a review note, and reviews/DATE.md.")] = None,
    insecure: InsecureOption = False,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Review every mailbox: idle, never used, expired, owner gone, social sign-ups, public forwards.

    Exit 0 with no findings, 2 with findings, 1 on error.
    """
    from reconciler.cli.terminal import Terminal
    from reconciler.review import render
    from reconciler.textfmt import markup as escape

    project = open_project(config, insecure=insecure)
    result = project.review(parse_as_of(as_of), idle_days=idle_days, expiring_days=expiring_days, roster=roster,
                            maillogs=maillog or ())
    terminal = Terminal()
    if propose is not None:
        if result.findings:
            made = project.propose_review(result, propose)
            terminal.err.print(_("Proposal on branch {branch} (commit {commit}): {disabled} mailbox(es) set to "
                                 "disabled, {manual} finding(s) for a person; record {record}").format(
                branch=made.branch, commit=made.commit[:12], disabled=len(made.disabled),
                manual=len(made.needs_person), record=made.record), markup=False, highlight=False)
        else:
            terminal.err.print(_("No findings: no branch {branch} was made.").format(branch=propose), markup=False,
                               highlight=False)
    if format is ReviewFormat.json:
        typer.echo(render.json_text(result))
    elif format is ReviewFormat.csv:
        typer.echo(render.csv_text(result), nl=False)
    elif format is ReviewFormat.markdown:
        typer.echo(render.markdown(result, branch=propose if result.findings else None), nl=False)
    else:
        terminal.lines(escape(line) for line in render.text_lines(result))
    if result.findings:
        raise typer.Exit(2)
