"""`reconciler validate`: check the unit files against the schema and the province's rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import (
    BaseOption,
    ConfigOption,
    FormatOption,
    TextOrJson,
    app,
    guarded,
    load_settings,
    parse_today,
)
from reconciler.declarations.validation import validate as run_validate
from reconciler.model import Desired
from reconciler.problems import InputError, Problem


@app.command()
@guarded
def validate(
    format: FormatOption = TextOrJson.text,
    today: Annotated[str | None, typer.Option(help="Check expiry as of this date (YYYY-MM-DD).")] = None,
    base: BaseOption = None,
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
    extra = None
    if base is not None:
        from reconciler.audit import lifecycle as audit
        from reconciler.audit.gitrepo import GitRepo

        repo = GitRepo(settings.root)
        base_commit = repo.commit(base)  # an unknown revision is refused before any file is read

        def extra(head: Desired) -> list[Problem]:
            # After the work tree is read: the base's unit files that did not change are not parsed again,
            # nor checked (each of their mailboxes is in the work tree as it was).
            changed = repo.desired_at(base_commit, settings.mailboxes_dir, reuse=head, changed_only=True)
            return audit.lifecycle_problems(changed, head)
    result = run_validate(settings, parse_today(today), extra)
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


