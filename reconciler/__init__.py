"""Official mailboxes as code: YAML declarations reconciled with an LDAP mail directory.

The Python API: ``reconciler.open(path)`` returns a :class:`~reconciler.project.Project` whose methods
(validate, plan, apply, import_, history, report, issue_credentials) are what the ``reconciler``
command line calls. See :mod:`reconciler.project`.
"""

from __future__ import annotations

import os as _os
from pathlib import Path as _Path
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Without a git binary GitPython refuses to be imported at all, which would break every command;
# quiet, the commands that need git report it as one line instead.
_os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

if TYPE_CHECKING:
    from reconciler.project import Project


def open(path: str | _Path = ".", config: str | _Path | None = None, *, insecure: bool = False) -> Project:
    """Open the repository at ``path``; see :func:`reconciler.project.open`."""
    # Imported here, not above: ``import reconciler.<module>`` must not load the whole API first.
    from reconciler.project import open as open_project

    return open_project(path, config, insecure=insecure)


__all__ = ["Project", "open"]


def __getattr__(name: str) -> object:
    if name == "Project":
        from reconciler.project import Project

        return Project
    raise AttributeError(f"module 'reconciler' has no attribute {name!r}")
