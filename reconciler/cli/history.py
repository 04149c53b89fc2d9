"""`reconciler history`: every change of one mailbox, from git and the apply records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import (
    ConfigOption,
    FormatOption,
    TextOrJson,
    app,
    guarded,
    open_project,
)
from reconciler.i18n import _


@app.command()
@guarded
def history(
    address: Annotated[str, typer.Argument(help="The mailbox address (or one of its aliases).")],
    format: FormatOption = TextOrJson.text,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Every commit that changed a mailbox, its pull request and ticket, and when it reached the directory."""
    from reconciler.audit import history as history_log

    project = open_project(config)
    mailbox = project.resolve_address(address)
    entries = project.history(mailbox)
    clock = project.clock()
    if format is TextOrJson.json:
        typer.echo(history_log.json_text(mailbox, entries, clock, asked=address))
    else:
        from reconciler.cli.terminal import Terminal
        from reconciler.textfmt import markup as escape

        terminal = Terminal()
        if history_log.alias_asked(address, mailbox):
            terminal.lines([escape(_("{alias} is an alias of {mailbox}: the history of {mailbox}").format(
                alias=address, mailbox=mailbox))])
        terminal.lines(history_log.text_lines(entries, clock, project.settings.apply_branch))
