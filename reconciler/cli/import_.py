"""`reconciler import`: write unit files for live accounts no file declares."""

from __future__ import annotations

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
    typer.echo(f"Imported {imported.accounts} account(s) into {len(imported.files)} unit file(s) under "
               f"{imported.target}; run `reconciler validate` to see what to fill in.")
