"""`reconciler report`: the auditor's report at a date or revision."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import (
    ConfigOption,
    app,
    guarded,
    load_settings,
)


class ReportFormat(StrEnum):
    markdown = "markdown"
    csv = "csv"
    json = "json"


@app.command()
@guarded
def report(
    at: Annotated[str | None, typer.Option("--at", help="A date (YYYY-MM-DD, end of that day) or a git revision; "
                                           "default: now.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Start of the period for 'changes' (YYYY-MM-DD); "
                                              "default: 30 days before --at.")] = None,
    format: Annotated[ReportFormat, typer.Option("--format", help="markdown, csv (one row per mailbox) or json")]
    = ReportFormat.markdown,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """The declared state at a date or revision, from git: for auditors."""
    from reconciler.audit import history as history_log
    from reconciler.audit import report as report_doc
    from reconciler.audit.gitrepo import GitRepo

    settings = load_settings(config)
    repo = GitRepo(settings.root)
    commit, as_of = history_log.resolve_point(repo, at)
    start = history_log.period_start(since, as_of)
    built = report_doc.build(repo, commit, as_of, start, settings.mailboxes_dir)
    if format is ReportFormat.json:
        typer.echo(report_doc.json_text(built))
    elif format is ReportFormat.csv:
        typer.echo(report_doc.csv_text(built), nl=False)
    else:
        typer.echo(report_doc.markdown(built), nl=False)


