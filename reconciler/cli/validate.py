"""`reconciler validate`: check the unit files against the schema and the province's rules."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from reconciler.audit import lifecycle as audit
from reconciler.audit.gitrepo import GitRepo
from reconciler.cli.app import (
    BaseOption,
    ConfigOption,
    FormatOption,
    InsecureOption,
    TextOrJson,
    app,
    guarded,
    load_settings,
    parse_today,
)
from reconciler.declarations.validation import validate as run_validate
from reconciler.model import Desired
from reconciler.problems import InputError, Problem
from reconciler.settings import Settings


def live_checks(settings: Settings, today: date, base: Desired | None, *,
                insecure: bool) -> Callable[[Desired], list[Problem]]:
    """Read the live directory once; the check it returns finds what the declarations may not do to it.

    Off by default on a workstation: validate stays offline and fast for editors and pre-commit hooks.
    In CI the directory's address in RECONCILER_LDAP_URL says one is configured, and then an
    unreachable directory is an error, not a skipped check.
    """
    from reconciler.directory import open_directory
    from reconciler.plan import apply as reconcile
    from reconciler.plan import diff as diffing

    directory = open_directory(settings, insecure=insecure)
    try:
        live = reconcile.read_live(directory)
    finally:
        directory.close()

    def check(desired: Desired) -> list[Problem]:
        plan = diffing.diff(desired, live, today=today, grace_days=settings.policy.removal_grace_days)
        return reconcile.live_problems(desired, live, plan, base)

    return check


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
        settings = load_settings(config)
    except InputError as err:
        if format is not TextOrJson.json:
            raise
        # A machine asked: bad settings are problems in the same JSON shape, not text on stderr.
        typer.echo(json.dumps({"format_version": 1, "valid": False, "files": 0, "mailboxes": 0,
                               "problems": [p.as_json() for p in err.problems]}, ensure_ascii=False, indent=2))
        raise typer.Exit(1) from None
    checks = []
    base_desired = None
    if base is not None:
        base_desired = GitRepo(settings.root).desired_at_rev(base, settings.mailboxes_dir)
        checks.append(partial(audit.lifecycle_problems, base_desired))
    day = parse_today(today)
    if live if live is not None else (base is not None and bool(os.environ.get("RECONCILER_LDAP_URL"))):
        checks.append(live_checks(settings, day, base_desired, insecure=insecure))
    extra = (lambda desired: [p for check in checks for p in check(desired)]) if checks else None
    result = run_validate(settings, day, extra)
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


