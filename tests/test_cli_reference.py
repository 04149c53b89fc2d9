"""docs/cli.md is generated from the CLI: it names every command and option, and cannot drift."""

from __future__ import annotations

import re

from reconciler.cli import reference


def test_the_committed_reference_is_what_the_cli_says():
    committed = reference.DOCUMENT.read_text(encoding="utf-8")
    assert committed == reference.render(), \
        "docs/cli.md is out of date: run `python -m reconciler.cli.reference --write` and commit it"


def test_every_command_and_every_visible_option_is_in_it():
    text = reference.render()
    for path in reference.command_paths():
        assert f"## reconciler {path}\n" in text
    for option in ("--detailed-exitcode", "--dry-run", "--break-lock", "--out-dir", "--since", "--print"):
        assert re.search(rf"│ {re.escape(option)}\b", text), option
    assert "--now" not in text  # the hidden test clock stays hidden
    assert "`2` with `--detailed-exitcode`" in text
