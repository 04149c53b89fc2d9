"""`reconciler history`: every change of one mailbox, from git and the apply records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import (
    ConfigOption,
    FormatOption,
    TextOrJson,
    app,
    guarded,
    load_settings,
)
from reconciler.problems import ReconcilerError


@app.command()
@guarded
def history(
    address: Annotated[str, typer.Argument(help="The mailbox address.")],
    format: FormatOption = TextOrJson.text,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Every commit that changed a mailbox, its pull request and ticket, and when it reached the directory."""
    from reconciler.audit import history as history_log
    from reconciler.audit.gitrepo import GitRepo
    from reconciler.cli.terminal import Terminal

    settings = load_settings(config)
    repo = GitRepo(settings.root)
    entries = history_log.history(repo, address, settings.mailboxes_dir)
    if not entries:
        raise ReconcilerError(f"no commit declares {address} under {settings.mailboxes_dir}/")
    if format is TextOrJson.json:
        typer.echo(json.dumps({"format_version": 1, "address": address,
                               "history": [history_log.entry_json(e) for e in entries]},
                              ensure_ascii=False, indent=2))
    else:
        Terminal().lines(history_log.text_lines(entries))


