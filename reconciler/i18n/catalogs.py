"""Loading the compiled catalogs, compiling a .po at import when its .mo is missing or older.

Why at import and not a setuptools build step: one code path serves `pip install -e .` (where the
package is the work tree and a build step would not run again after a .po is edited),
`pip install .`, and a checkout used in place. The .mo is cached next to the .po when that folder is
writable (it is git-ignored) and compiled in memory otherwise, so a read-only install still works.
"""

from __future__ import annotations

import gettext
import io
import os
from functools import cache
from pathlib import Path

DOMAIN = "reconciler"
LOCALES = Path(__file__).resolve().parent / "locales"
SOURCE_LANGUAGE = "en"


def po_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_po(po: Path) -> bytes:
    """The .mo bytes of a .po file (Babel's reader and writer; fuzzy entries are left out)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as handle:
        catalog = read_po(handle, locale=po.parent.parent.name, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def compiled(language: str) -> bytes | None:
    """The compiled catalog of ``language``: the cached .mo when fresh, else compiled now."""
    po = po_path(language)
    if not po.exists():
        return None
    mo = po.with_suffix(".mo")
    try:
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            return mo.read_bytes()
    except OSError:
        pass
    data = compile_po(po)
    try:
        temporary = mo.with_name(f"{mo.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        temporary.replace(mo)
    except OSError:
        pass  # a read-only install: the catalog lives in memory for this run
    return data


@cache
def translations(language: str) -> gettext.NullTranslations:
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    data = compiled(language)
    if data is None:
        return gettext.NullTranslations()
    return gettext.GNUTranslations(io.BytesIO(data))
