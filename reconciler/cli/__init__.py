"""The `reconciler` command line: parse arguments, call the Python API, render. Nothing else lives here.

One module per command; importing them registers the commands on ``app``.
"""

from __future__ import annotations

import sys

from reconciler.cli import apply, credentials, history, import_, new, plan, report, review, validate  # noqa: F401
from reconciler.cli.app import app


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - raised outside a command
        sys.exit(1)
