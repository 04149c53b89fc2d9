"""Vietnamese names and the addresses the provincial convention derives from them."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

from reconciler.i18n import _

_D = str.maketrans({"đ": "d", "Đ": "D"})


def fold(text: str) -> str:
    """ASCII-fold Vietnamese text: drop tone and vowel marks, Đ/đ -> D/d."""
    decomposed = unicodedata.normalize("NFD", text.translate(_D))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def split_name(full_name: str) -> tuple[str, str]:
    """Family name (first word) and given name (last word) of a Vietnamese full name."""
    words = full_name.split()
    if not words:
        return "", ""
    return words[0], words[-1]


def conventional_local_part(full_name: str) -> str:
    """Given name then the initials of family and middle names: Đặng Ngọc Dũng -> dungdn."""
    words = [w for w in (fold(word).lower() for word in full_name.split()) if w]
    words = ["".join(ch for ch in w if ch.isascii() and ch.isalnum()) for w in words]
    words = [w for w in words if w]
    if not words:
        return ""
    *others, given = words
    return given + "".join(w[0] for w in others)


def suggest_address(full_name: str, domain: str, taken: Collection[str]) -> str:
    """The conventional address, with 2, 3, ... appended while it collides with ``taken``."""
    local = conventional_local_part(full_name)
    if not local:
        raise ValueError(_("'{name}' has no letters to make an address from").format(name=full_name))
    taken_lower = {t.lower() for t in taken}
    candidate, n = local, 1
    while f"{candidate}@{domain}" in taken_lower:
        n += 1
        candidate = f"{local}{n}"
    return f"{candidate}@{domain}"
