"""`reconciler import`: write unit files for live accounts no file declares."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
import yaml

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
from reconciler.plan import apply as reconcile
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
    settings = load_settings(config)
    desired = run_validate(settings, date.today()).desired
    declared = {m.address.lower() for m in desired.mailboxes()}
    directory = open_directory(settings, insecure=insecure)
    try:
        view = reconcile.read_live_view(directory, settings, desired)
    finally:
        directory.close()
    accounts = [a for key, a in sorted(view.accounts.items()) if key not in declared]
    target = out_dir or settings.mailboxes_path

    def existing(unit: str) -> str | None:
        path = target / f"{unit}.yaml"
        try:
            return path.read_text(encoding="utf-8") if path.exists() else None
        except (OSError, UnicodeDecodeError) as err:
            raise ReconcilerError(f"{path}: cannot read it to add imported mailboxes: {err}") from None

    try:
        imported = importer.build(accounts, domains=settings.domains,
                                  public_mail_domains=settings.policy.public_mail_domains,
                                  unit_ids=reconcile.unit_ids(desired), existing=existing)
    except yaml.YAMLError:
        raise ReconcilerError("a unit file under the target folder is not valid YAML: run `reconciler validate` "
                              "and fix it before importing") from None
    if imported.refused:
        path = target / f"{imported.refused[0]}.yaml"
        raise ReconcilerError(f"{path}: cannot add imported mailboxes safely ('mailboxes' is not its last section "
                              "or is written in flow style): import into an empty --out-dir and merge by hand")
    target.mkdir(parents=True, exist_ok=True)
    for unit, text in imported.files.items():
        write_text(target / f"{unit}.yaml", text)
    typer.echo(f"Imported {imported.accounts} account(s) into {len(imported.files)} unit file(s) under {target}.")
    if imported.extended:
        typer.echo(f"Added to existing unit files: {', '.join(f'{u}.yaml' for u in imported.extended)}.")
    sections = (
        ("Left out of the YAML (the policy does not allow declaring them)", imported.left_out),
        ("Not imported", imported.not_imported),
        ("Entries the profile cannot read (not imported, left alone)",
         [f"{u.dn}: {u.reason}" for u in view.unreadable]),
        ("Not mailboxes, ignored", list(view.not_mailboxes)),
        ("To fill in before `reconciler validate` passes", imported.to_fill),
    )
    for title, lines in sections:
        if lines:
            typer.echo(f"{title} ({len(lines)}):")
            for line in lines:
                typer.echo(f"  {line}")
