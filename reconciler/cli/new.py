"""`reconciler new`: suggest an address for a person and print a YAML entry to paste."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import (
    ConfigOption,
    app,
    guarded,
    load_settings,
)
from reconciler.declarations import naming
from reconciler.declarations.desired import nfc
from reconciler.declarations.schema import did_you_mean
from reconciler.declarations.validation import validate as run_validate
from reconciler.problems import ReconcilerError


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
    settings = load_settings(config)
    result = run_validate(settings, settings.clock().today())
    unit_ids = sorted(u.id for u in result.desired.units)
    if unit not in unit_ids:
        hint = did_you_mean(unit, unit_ids)
        raise ReconcilerError(f"unknown unit '{unit}';{hint} known units: {', '.join(unit_ids) or 'none'}")
    taken = [a for m in result.desired.mailboxes() for a in (m.address, *m.aliases)]
    try:
        address = naming.suggest_address(full_name, settings.domains[0], taken)
    except ValueError as err:
        raise ReconcilerError(str(err)) from None
    name = nfc(" ".join(full_name.split()))
    lines = [
        f"# add to {settings.mailboxes_dir}/{unit}.yaml under mailboxes:",
        f"  - address: {address}",
        f"    name: {json.dumps(name, ensure_ascii=False)}",
        "    kind: personal",
        f"    owner: {{id: {json.dumps(owner_id, ensure_ascii=False)}, name: {json.dumps(name, ensure_ascii=False)}}}",
        "    status: active",
        f"    ticket: {json.dumps(ticket, ensure_ascii=False)}",
    ]
    typer.echo("\n".join(lines))
    if not owner_id or not ticket:
        typer.echo("note: fill in the owner's staff id and the ticket before committing", err=True)


