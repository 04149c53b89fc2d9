"""`reconciler new`: suggest an address for a person and print a YAML entry to paste."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import ConfigOption, app, guarded, open_project
from reconciler.i18n import _


@app.command()
@guarded
def new(
    full_name: Annotated[str, typer.Argument(metavar="FULL_NAME", help='e.g. "Đặng Ngọc Dũng"')],
    unit: Annotated[str, typer.Option("--unit", help="The unit id (file stem under mailboxes/).")],
    owner_id: Annotated[str, typer.Option("--owner-id", help="The person's staff id, e.g. QN-000123.")] = "",
    ticket: Annotated[str, typer.Option("--ticket", help="The request or decision behind it.")] = "",
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Suggest an address by the provincial convention and print a YAML entry ready to paste."""
    suggestion = open_project(config).suggest_mailbox(full_name, unit, owner_id=owner_id, ticket=ticket)
    typer.echo("# " + _("add to {file} under mailboxes:").format(file=suggestion.file) + f"\n{suggestion.entry}")
    if suggestion.missing:
        typer.echo(_("note: fill in the owner's staff id and the ticket before committing"), err=True)
