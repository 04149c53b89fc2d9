"""`reconciler history`: every change of one mailbox, from git and the apply records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from reconciler.audit import history as history_log
from reconciler.audit.gitrepo import GitRepo
from reconciler.cli.app import (
    ConfigOption,
    FormatOption,
    TextOrJson,
    app,
    guarded,
    load_settings,
)
from reconciler.cli.terminal import Terminal
from reconciler.problems import ReconcilerError


@app.command()
@guarded
def history(
    address: Annotated[str, typer.Argument(help="The mailbox address (or one of its aliases).")],
    format: FormatOption = TextOrJson.text,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Every commit that changed a mailbox, its pull request and ticket, and when it reached the directory."""
    settings = load_settings(config)
    clock = settings.clock()
    repo = GitRepo(settings.root)
    mailbox = history_log.resolve_address(repo, address, settings.mailboxes_dir)
    entries = history_log.history(repo, mailbox, settings.mailboxes_dir)
    if not entries:
        raise ReconcilerError(f"no commit declares {address} under {settings.mailboxes_dir}/")
    alias_of = mailbox if mailbox.lower() != address.strip().lower() else None
    if format is TextOrJson.json:
        typer.echo(json.dumps({"format_version": 1, "address": mailbox, "alias": address if alias_of else None,
                               "apply_records_fetched": entries[0].records_known,
                               "history": [history_log.entry_json(e, clock) for e in entries]},
                              ensure_ascii=False, indent=2))
    else:
        terminal = Terminal()
        if alias_of:
            terminal.lines([f"{escape(address)} is an alias of {alias_of}: the history of {alias_of}"])
        terminal.lines(history_log.text_lines(entries, clock, settings.apply_branch))


