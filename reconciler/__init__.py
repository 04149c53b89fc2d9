"""Official mailboxes as code: YAML declarations reconciled with an LDAP mail directory."""

__version__ = "0.1.0"

import os as _os

# Without a git binary GitPython refuses to be imported at all, which would break every command;
# quiet, the commands that need git report it as one line instead.
_os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
