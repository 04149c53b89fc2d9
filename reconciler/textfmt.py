"""How values are written into output: one value formatter and one escape per markup language.

Values reach output from unit files, git and the live directory, and the live directory may hold
anything (a newline in a name, an ESC byte, raw HTML). Every renderer (plan, history, report,
problem lines) goes through these functions, so that:

- a value is always one line of visible text (control characters shown as escapes);
- in Markdown it is text, never markup (HTML, links, tables, mentions);
- in rich markup it is text, never a style tag;
- no output line starts a CI workflow command (``::add-mask::``, ``::error::`` at a line's start).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date
from enum import Enum

from reconciler.i18n import N_, _

#: Characters no field may hold and no output line may carry raw: C0 (tab and newline included),
#: DEL, C1, and the Unicode line and paragraph separators.
CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

_NAMES = {"\x00": "NUL", "\t": N_("tab"), "\n": N_("line break"), "\r": N_("carriage return"), "\x1b": "ESC",
          "\x7f": "DEL", "\x85": N_("next-line"), "\u2028": N_("line separator"),
          "\u2029": N_("paragraph separator")}
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def describe_character(character: str) -> str:
    """``'\\x1b'`` -> ``control character U+001B (ESC)``: how a problem line names a refused character."""
    code = ord(character[:1]) if character else 0
    name = _NAMES.get(character)
    return _("control character {code}").format(code=f"U+{code:04X}") + (f" ({_(name)})" if name else "")


def _shown(match: re.Match[str]) -> str:
    character = match.group()
    short = _SHORT.get(character)
    if short:
        return short
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """The text on one line, every control character written as an escape (``\\n``, ``\\x1b``)."""
    return CONTROL_CHARACTER.sub(_shown, text)


def value(item: object, *, none: str = "—", empty: str | None = None, separator: str = ", ") -> str:
    """One field's value as one line of text: the formatter every renderer uses.

    None is ``none``; a list is its items joined by ``separator`` (``empty`` when it has none); a
    date is ISO 8601; an enum is its value.
    """
    if item is None:
        return none
    if isinstance(item, list | tuple):
        if not item:
            return _("(none)") if empty is None else empty
        return separator.join(value(v, none=none, empty=empty, separator=separator) for v in item)
    if isinstance(item, Enum):
        item = item.value
    if isinstance(item, date):
        return item.isoformat()
    return visible(str(item))


_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+!|~]")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "@": "&#64;"}
_HTML_SPECIAL = re.compile('[&<>"@]')


def md(text: object) -> str:
    """Text for Markdown (a table cell, a list item, a heading): no markup, no HTML, no mention, one line."""
    plain = value(text, none="", empty="") if not isinstance(text, str) else visible(text)
    plain = _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(), plain)
    return _HTML_SPECIAL.sub(lambda m: _HTML[m.group()], plain)  # after: an entity's '#' stays as it is


def md_code(text: object) -> str:
    """Text as a Markdown code span (addresses), or escaped text when a code span could not hold it."""
    plain = str(text)
    if not plain or "`" in plain or "|" in plain or CONTROL_CHARACTER.search(plain) or plain != plain.strip():
        return md(plain)
    return f"`{plain}`"


def markup(text: object) -> str:
    """Text for rich markup: never read as a style tag, one line."""
    from rich.markup import escape  # only what prints to a terminal needs rich: `validate` starts without it

    return escape(visible(str(text)))


_WORKFLOW_COMMAND = re.compile(r"^(\s*)::", re.MULTILINE)


def safe_line(line: str) -> str:
    """A line that CI cannot read as a workflow command: a leading ``::`` becomes ``: :``."""
    return _WORKFLOW_COMMAND.sub(r"\1: :", line)


def safe_lines(lines: Iterable[str]) -> list[str]:
    return [safe_line(line) for line in lines]


def one_line(text: str) -> str:
    """A message printed as one line of output: control characters escaped, no workflow command."""
    return safe_line(visible(text))


#: Every CSV the tool writes starts with it: Excel then reads the file as UTF-8 and shows Vietnamese correctly.
BOM = "\ufeff"


def csv_document(rows: Iterable[Iterable[object]], *, lineterminator: str = "\n") -> str:
    """Rows (the header first) as one CSV document, with the UTF-8 byte-order mark: the one CSV writer."""
    buffer = io.StringIO()
    buffer.write(BOM)
    csv.writer(buffer, lineterminator=lineterminator).writerows(rows)
    return buffer.getvalue()
