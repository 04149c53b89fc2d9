"""`reconciler credentials issue`: a one-time password, shown once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import (
    ConfigOption,
    InsecureOption,
    app,
    guarded,
    open_project,
)
from reconciler.i18n import _
from reconciler.problems import ReconcilerError

credentials_app = typer.Typer(no_args_is_help=True, help="One-time passwords for mailboxes, shown once.")
app.add_typer(credentials_app, name="credentials")


@credentials_app.command("issue")
@guarded
def credentials_issue(
    address: Annotated[str, typer.Argument(metavar="ADDRESS", help="An active mailbox, e.g. annv@quangngai.gov.vn")],
    print_: Annotated[bool, typer.Option("--print", help="Print the password even when standard output is not a "
                                         "terminal (it may end up in a log or a file).")] = False,
    insecure: InsecureOption = False,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Set a random one-time password on an active mailbox and show it once; it must be changed at first login."""
    from reconciler import credentials

    if not print_ and not sys.stdout.isatty():
        raise ReconcilerError(_("standard output is not a terminal: the password would end up in a log or a file; "
                                "run it on a terminal, or pass --print"))
    project = open_project(config, insecure=insecure)
    issued = project.issue_credentials(address)
    typer.echo("\n".join(credentials.render(issued, project.clock())))
    if issued.record_warning:
        raise ReconcilerError(_("the credentials were issued, but their record was not kept in git: {reason}").format(
            reason=issued.record_warning))
