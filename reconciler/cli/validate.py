"""`reconciler validate`: check the unit files against the schema and the province's rules."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import (
    BaseOption,
    ConfigOption,
    FormatOption,
    InsecureOption,
    TextOrJson,
    app,
    guarded,
    open_project,
    parse_today,
)
from reconciler.i18n import _, ngettext
from reconciler.problems import InputError


@app.command()
@guarded
def validate(
    format: FormatOption = TextOrJson.text,
    today: Annotated[str | None, typer.Option(help="Check expiry as of this date (YYYY-MM-DD).")] = None,
    base: BaseOption = None,
    live: Annotated[bool | None, typer.Option(
        "--live/--offline", help="Also check against the live directory: no address or alias another live "
        "account answers to; with --base, adopted accounts declared as they are live. Default: on with --base "
        "when RECONCILER_LDAP_URL is set (CI), off otherwise.")] = None,
    insecure: InsecureOption = False,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Check every unit file against the schema and the province's rules."""
    try:
        project = open_project(config, insecure=insecure)
    except InputError as err:
        if format is not TextOrJson.json:
            raise
        # A machine asked: bad settings are problems in the same JSON shape, not text on stderr.
        typer.echo(json.dumps({"format_version": 1, "valid": False, "files": 0, "mailboxes": 0,
                               "problems": [p.as_json() for p in err.problems]}, ensure_ascii=False, indent=2))
        raise typer.Exit(1) from None
    use_live = live if live is not None else (base is not None and bool(os.environ.get("RECONCILER_LDAP_URL")))
    result = project.validate(base, parse_today(today), live=use_live)
    if format is TextOrJson.json:
        typer.echo(json.dumps({
            "format_version": 1,
            "valid": result.ok,
            "files": result.files,
            "mailboxes": len(result.desired.mailboxes()),
            "problems": [p.as_json() for p in result.problems],
        }, ensure_ascii=False, indent=2))
    else:
        for problem in result.problems:
            typer.echo(str(problem))
        count = len(result.errors)
        warned = len(result.warnings)
        verdict = _("valid") if result.ok else ngettext("{count} problem", "{count} problems", count).format(
            count=count)
        if warned:
            verdict += " " + ngettext("({count} warning)", "({count} warnings)", warned).format(count=warned)
        summary = _("{files} files, {mailboxes} mailboxes: {verdict}").format(
            files=result.files, mailboxes=len(result.desired.mailboxes()), verdict=verdict)
        typer.echo(summary, err=not result.ok)
    if not result.ok:
        raise typer.Exit(1)
