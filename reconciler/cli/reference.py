"""The command-line reference (docs/cli.md), generated from the CLI itself so that it cannot drift.

    python -m reconciler.cli.reference            # print it
    python -m reconciler.cli.reference --write    # rewrite docs/cli.md

Each command's section is its own ``--help`` (every option, its values and default), at a fixed
width and without colour, plus its exit codes. A test compares the committed file with this output.
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

from reconciler.cli import app

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
WIDTH = "100"

#: what every command's exit code means
EXIT_CODES = {0: "success", 1: "invalid input (usage errors included), refused, or failed: one line on stderr"}
#: exit codes particular to one command
EXTRA_EXIT_CODES: dict[str, dict[int, str]] = {
    "plan": {2: "with `--detailed-exitcode`: there are changes, or policy violations in the live directory "
                "(Terraform's convention)"},
    "review": {2: "there are findings"},
}


def command_paths() -> list[str]:
    """Every command, subcommands as ``group command``, in alphabetical order."""
    paths = [info.name or (info.callback.__name__ if info.callback else "") for info in app.registered_commands]
    for group in app.registered_groups:
        assert group.typer_instance is not None
        paths += [f"{group.name} {info.name or (info.callback.__name__ if info.callback else '')}"
                  for info in group.typer_instance.registered_commands]
    return sorted(paths)


def help_text(path: str) -> str:
    result = CliRunner().invoke(app, [*path.split(), "--help"], prog_name="reconciler",
                                env={"COLUMNS": WIDTH, "NO_COLOR": "1", "TERM": "dumb"})
    if result.exit_code != 0:
        raise RuntimeError(f"reconciler {path} --help failed: {result.output}")
    lines = [line.rstrip() for line in result.output.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines).rstrip()


def render() -> str:
    paths = command_paths()
    lines = ["# Command-line reference", "",
             "Generated from the CLI by `python -m reconciler.cli.reference --write`; a test keeps it current.",
             "Run commands from the repository root (settings from `./reconciler.yaml`, or `--config PATH`).", "",
             "| exit code | meaning |", "| --- | --- |"]
    lines += [f"| `{code}` | {meaning} |" for code, meaning in EXIT_CODES.items()]
    lines += ["", "Commands: " + ", ".join(f"[`{path}`](#reconciler-{path.replace(' ', '-')})" for path in paths), ""]
    for path in paths:
        codes = {**EXIT_CODES, **EXTRA_EXIT_CODES.get(path, {})}
        lines += [f"## reconciler {path}", "", "```", help_text(path), "```", "",
                  "Exit codes: " + "; ".join(f"`{code}` {meaning}" for code, meaning in sorted(codes.items())), ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> None:
    text = render()
    if "--write" in argv:
        DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
        DOCUMENT.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
