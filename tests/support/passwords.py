"""Reading a one-time password off what `reconciler credentials issue` printed."""

from __future__ import annotations

import re

#: 4 groups of 5 symbols from the unambiguous alphabet, joined by dashes
SHAPE = re.compile(r"^[A-Za-z2-9]{5}(-[A-Za-z2-9]{5}){3}$")


def printed_password(output: str) -> str:
    (password,) = re.findall(r"^    (\S+)$", output, flags=re.MULTILINE)
    assert SHAPE.match(password)
    return password
