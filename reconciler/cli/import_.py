"""`reconciler import`: write unit files for live accounts no file declares."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import (
    ConfigOption,
    InsecureOption,
    app,
    guarded,
    load_settings,
    write_text,
)
from reconciler.declarations import importer
from reconciler.declarations.validation import validate as run_validate
from reconciler.directory import open_directory
from reconciler.problems import ReconcilerError


@app.command("import")
@guarded
def import_(
    out_dir: Annotated[Path | None, typer.Option("--out-dir", help="Where to write unit files (default: the "
                                                  "mailboxes folder).")] = None,
    insecure: InsecureOption = False,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Write unit files for live accounts no file declares yet, to adopt an existing directory."""
    from reconciler.plan import apply as reconcile

    settings = load_settings(config)
    declared = {m.address.lower() for m in run_validate(settings, date.today()).desired.mailboxes()}
    directory = open_directory(settings, insecure=insecure)
    try:
        live = reconcile.read_live(directory)
    finally:
        directory.close()
    accounts = [a for key, a in sorted(live.items()) if key not in declared]
    target = out_dir or settings.mailboxes_path
    files = importer.unit_files(accounts)
    clashes = [str(target / f"{unit}.yaml") for unit in files if (target / f"{unit}.yaml").exists()]
    if clashes:
        raise ReconcilerError(f"{clashes[0]} already exists: import into an empty --out-dir and merge by hand")
    target.mkdir(parents=True, exist_ok=True)
    for unit, text in files.items():
        write_text(target / f"{unit}.yaml", text)
    typer.echo(f"Imported {len(accounts)} account(s) into {len(files)} unit file(s) under {target}; "
               "run `reconciler validate` to see what to fill in.")


