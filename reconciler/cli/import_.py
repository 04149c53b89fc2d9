"""`reconciler import`: adopt live accounts no unit file declares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import ConfigOption, InsecureOption, app, guarded, open_project
from reconciler.i18n import _


@app.command("import")
@guarded
def import_(
    out_dir: Annotated[Path | None, typer.Option("--out-dir", help="Where to write unit files (default: the "
                                                  "mailboxes folder).")] = None,
    insecure: InsecureOption = False,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Write unit files for live accounts no file declares yet, to adopt an existing directory."""
    imported = open_project(config, insecure=insecure).import_(out_dir)
    result, view = imported.result, imported.view
    typer.echo(_("Imported {accounts} account(s) into {files} unit file(s) under {target}.").format(
        accounts=result.accounts, files=len(result.files), target=imported.target))
    if result.extended:
        typer.echo(_("Added to existing unit files: {files}.").format(
            files=", ".join(f"{u}.yaml" for u in result.extended)))
    sections = (
        (_("Left out of the YAML (the policy does not allow declaring them)"), result.left_out),
        (_("Not imported"), result.not_imported),
        (_("Entries the profile cannot read (not imported, left alone)"),
         [f"{u.dn}: {u.reason}" for u in view.unreadable]),
        (_("Not mailboxes, ignored"), list(view.not_mailboxes)),
        (_("To fill in before `reconciler validate` passes"), result.to_fill),
    )
    for title, lines in sections:
        if lines:
            typer.echo(f"{title} ({len(lines)}):")
            for line in lines:
                typer.echo(f"  {line}")
