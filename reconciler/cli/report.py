"""`reconciler report`: the auditor's report at a date or revision."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from reconciler.audit import history as history_log
from reconciler.audit import livereport
from reconciler.audit import report as report_doc
from reconciler.audit.gitrepo import GitRepo
from reconciler.cli.app import (
    ConfigOption,
    InsecureOption,
    NowOption,
    app,
    guarded,
    load_settings,
    parse_now,
)
from reconciler.declarations.validation import validate as run_validate
from reconciler.directory import open_directory
from reconciler.plan import apply as reconcile
from reconciler.problems import ReconcilerError
from reconciler.settings import Settings


class ReportFormat(StrEnum):
    text = "text"
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
    format: Annotated[ReportFormat | None, typer.Option("--format", help="markdown, csv (one row per mailbox) or "
                                                        "json; with --live also text (the default there)")] = None,
    live: Annotated[bool, typer.Option("--live", help="What the live directory holds now, per unit: forwards and "
                                       "aliases outside the province, unmanaged and disabled accounts.")] = False,
    insecure: InsecureOption = False,
    now: NowOption = None,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """The declared state at a date or revision, from git: for auditors. With --live: the directory as it is."""
    settings = load_settings(config)
    if live:
        if at is not None or since is not None:
            raise ReconcilerError("--live shows the directory as it is now; it takes no --at or --since")
        typer.echo(live_report(settings, format or ReportFormat.text, insecure=insecure, now=parse_now(now)), nl=False)
        return
    if format is ReportFormat.text:
        raise ReconcilerError("--format text is for --live; the report from git is markdown, csv or json")
    format = format or ReportFormat.markdown
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


def live_report(settings: Settings, format: ReportFormat, *, insecure: bool, now: datetime) -> str:
    """`report --live`: read the directory through the profile and render what it holds now."""
    # Declarations that do not validate still say which accounts are managed and what the units are called.
    desired = run_validate(settings, now.date()).desired
    directory = open_directory(settings, insecure=insecure)
    try:
        view = reconcile.read_live_view(directory, settings, desired)
    finally:
        directory.close()
    built = livereport.build(view, (m.address.lower() for m in desired.mailboxes()), reconcile.unit_names(desired),
                             domains=settings.domains, public_mail_domains=settings.policy.public_mail_domains,
                             now=now, directory=directory.describe())
    if format is ReportFormat.json:
        return livereport.json_text(built) + "\n"
    if format is ReportFormat.csv:
        return livereport.csv_text(built)
    if format is ReportFormat.markdown:
        return livereport.markdown(built)
    return livereport.text(built)
