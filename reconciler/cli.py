"""The `reconciler` command line: parse arguments, call the core, render. Nothing else lives here."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from . import naming
from . import settings as settings_file
from .problems import InputError, ReconcilerError
from .settings import Settings
from .validation import validate as run_validate

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Official mailboxes as code: declare mailboxes in git, reconcile them with the mail directory.",
)

F = TypeVar("F", bound=Callable[..., Any])


class TextOrJson(StrEnum):
    text = "text"
    json = "json"


FormatOption = Annotated[TextOrJson, typer.Option("--format", help="text for people, json for machines")]
ConfigOption = Annotated[
    Path, typer.Option("--config", help="Settings file; the repository is the folder that holds it.")
]


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def guarded(command: F) -> F:
    """Turn every failure into one line on stderr and exit code 1: no traceback reaches a user."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except InputError as err:
            for problem in err.problems:
                typer.echo(str(problem), err=True)
            raise typer.Exit(1) from None
        except ReconcilerError as err:
            raise fail(str(err)) from None
        except KeyboardInterrupt:
            raise fail("interrupted") from None
        except Exception as err:  # the last guard: report, never a traceback
            if os.environ.get("RECONCILER_DEBUG"):
                raise
            raise fail(f"internal error: {type(err).__name__}: {err} (set RECONCILER_DEBUG=1 for details)") \
                from None

    return wrapper  # type: ignore[return-value]


def load_settings(config: Path) -> Settings:
    return settings_file.with_environment(settings_file.load(config))


def parse_today(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReconcilerError(f"--today: '{value}' is not a date; write YYYY-MM-DD") from None


@app.command()
@guarded
def validate(
    format: FormatOption = TextOrJson.text,
    today: Annotated[str | None, typer.Option(help="Check expiry as of this date (YYYY-MM-DD).")] = None,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Check every unit file against the schema and the province's rules."""
    settings = load_settings(config)
    result = run_validate(settings, parse_today(today))
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
        count = len(result.problems)
        summary = (f"{result.files} files, {len(result.desired.mailboxes())} mailboxes: "
                   + ("valid" if result.ok else f"{count} problem{'s' if count != 1 else ''}"))
        typer.echo(summary, err=not result.ok)
    if not result.ok:
        raise typer.Exit(1)


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
    result = run_validate(settings, date.today())
    unit_ids = sorted(u.id for u in result.desired.units)
    if unit not in unit_ids:
        raise ReconcilerError(f"unknown unit '{unit}'; known units: {', '.join(unit_ids) or 'none'}")
    taken = [a for m in result.desired.mailboxes() for a in (m.address, *m.aliases)]
    try:
        address = naming.suggest_address(full_name, settings.domains[0], taken)
    except ValueError as err:
        raise ReconcilerError(str(err)) from None
    name = " ".join(full_name.split())
    lines = [
        f"# add to {settings.mailboxes_dir}/{unit}.yaml under mailboxes:",
        f"  - address: {address}",
        f"    name: {name}",
        "    kind: personal",
        f"    owner: {{id: {json.dumps(owner_id, ensure_ascii=False)}, name: {name}}}",
        "    status: active",
        f"    ticket: {json.dumps(ticket, ensure_ascii=False)}",
    ]
    typer.echo("\n".join(lines))
    if not owner_id or not ticket:
        typer.echo("note: fill in the owner's staff id and the ticket before committing", err=True)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - raised outside a command
        sys.exit(1)
