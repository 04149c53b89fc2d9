"""`reconciler report`: the auditor's report at a date or revision, the province's summary figures, and the
live directory as it is now."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import ConfigOption, InsecureOption, NowOption, app, guarded, open_project, parse_now
from reconciler.i18n import _
from reconciler.problems import ReconcilerError


class ReportFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    csv = "csv"
    json = "json"
    html = "html"
    xlsx = "xlsx"


@app.command()
@guarded
def report(
    at: Annotated[str | None, typer.Option("--at", help="A date (YYYY-MM-DD, end of that day) or a git revision; "
                                           "default: now.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Start of the period for 'changes' (YYYY-MM-DD); "
                                              "default: 30 days before --at.")] = None,
    format: Annotated[ReportFormat | None, typer.Option(
        "--format", help="markdown (default), csv (one row per mailbox) or json; with --summary also html (one "
                         "printable page) and xlsx; with --live also text (the default there)")] = None,
    summary: Annotated[bool, typer.Option("--summary", help="The figures a province reports, per unit and in "
                                          "total.")] = False,
    roster: Annotated[Path | None, typer.Option("--roster", help="Staff list (CSV: id,name,unit[,left_on] or "
                                                "mã,họ tên,đơn vị[,ngày nghỉ]) for --summary.")] = None,
    live: Annotated[bool, typer.Option("--live", help="Read the live directory: alone, what it holds now per unit "
                                       "(forwards and aliases outside the province, unmanaged and disabled "
                                       "accounts); with --summary, the last logins (share of mailboxes used).")]
    = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of standard output.")]
    = None,
    insecure: InsecureOption = False,
    now: NowOption = None,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """The declared state at a date or revision, from git: for auditors. With --live: the directory as it is."""
    from reconciler.audit import livereport, summary_formats
    from reconciler.audit import report as report_doc

    project = open_project(config, insecure=insecure)
    if summary:
        if format is ReportFormat.text:
            raise ReconcilerError(_("--format text is for --live alone; the summary is markdown, csv, json, html or "
                                    "xlsx"))
        figures = project.summary(at, since, roster=roster, live=live)
        writers = {ReportFormat.json: lambda: summary_formats.json_text(figures) + "\n",
                   ReportFormat.csv: lambda: summary_formats.csv_text(figures),
                   ReportFormat.html: lambda: summary_formats.html_page(figures),
                   ReportFormat.xlsx: lambda: summary_formats.xlsx_bytes(figures),
                   ReportFormat.markdown: lambda: summary_formats.markdown(figures)}
        _emit(writers[format or ReportFormat.markdown](), out)
        return
    if format in (ReportFormat.html, ReportFormat.xlsx):
        raise ReconcilerError(_("--format {format} is for the summary: add --summary").format(format=format.value))
    if live:
        if at is not None or since is not None:
            raise ReconcilerError(_("--live shows the directory as it is now; it takes no --at or --since"))
        built_live = project.live_report(now=parse_now(now))
        live_writers = {ReportFormat.json: lambda: livereport.json_text(built_live) + "\n",
                        ReportFormat.csv: lambda: livereport.csv_text(built_live),
                        ReportFormat.markdown: lambda: livereport.markdown(built_live),
                        ReportFormat.text: lambda: livereport.text(built_live)}
        _emit(live_writers[format or ReportFormat.text](), out)
        return
    if format is ReportFormat.text:
        raise ReconcilerError(_("--format text is for --live; the report from git is markdown, csv or json"))
    built = project.report(at, since)
    if format is ReportFormat.json:
        _emit(report_doc.json_text(built) + "\n", out)
    elif format is ReportFormat.csv:
        _emit(report_doc.csv_text(built), out)
    else:
        _emit(report_doc.markdown(built), out)


def _emit(content: str | bytes, out: Path | None) -> None:
    if out is None:
        typer.echo(content, nl=False)
        return
    try:
        if isinstance(content, bytes):
            out.write_bytes(content)
        else:
            out.write_text(content, encoding="utf-8")
    except OSError as err:
        raise ReconcilerError(_("{path}: cannot write: {reason}").format(path=out, reason=err.strerror)) from None
