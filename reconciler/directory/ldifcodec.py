"""LDIF content records (RFC 2849): read and write the embedded directory and slapcat exports.

Our own small codec rather than PyPI's ``ldif``: python-ldap (the fast read path) installs a
top-level module of the same name with another API, and whichever is installed last replaces the
other. Only content records are needed here: ``dn``, ``attr: value``, ``attr:: base64``, folded
lines, comments and a ``version:`` line. URL values (``attr:< file://``) are refused.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator

from reconciler.i18n import _

Record = tuple[str, dict[str, list[str]]]

#: RFC 2849 SAFE-STRING: no leading space, colon or '<'; only ASCII 0x01-0x7F without NUL, LF, CR
_SAFE = re.compile(r"^(?![ :<])[\x01-\x09\x0b\x0c\x0e-\x7f]*$")
_ATTRIBUTE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9;.\-]*)(:<|::|:)\s?(.*)$")
FOLD_AT = 76


class LdifSyntaxError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(_("line {line}: {message}").format(line=line, message=message))
        self.line = line


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Unfold continuation lines; yield (first physical line number, logical line); '' between records."""
    current: list[str] = []
    start = 0
    # Only LF (or CRLF) ends a line: str.splitlines() would also split on \x1c-\x1e, \x85 and U+2028.
    for number, raw in enumerate(text.split("\n"), start=1):
        raw = raw.removesuffix("\r")
        if raw.startswith(" ") and current:
            current.append(raw[1:])
            continue
        if current:
            yield start, "".join(current)
        current, start = [raw], number
    if current:
        yield start, "".join(current)


def parse(text: str) -> Iterator[Record]:
    """Content records of an LDIF text; raises LdifSyntaxError naming the line."""
    dn: str | None = None
    attrs: dict[str, list[str]] = {}
    for number, line in _logical_lines(text):
        if not line.strip():
            if dn is not None:
                yield dn, attrs
            dn, attrs = None, {}
            continue
        if line.startswith("#"):
            continue
        match = _ATTRIBUTE.match(line)
        if match is None:
            raise LdifSyntaxError(number, _("expected 'attribute: value', found {text}").format(text=repr(line[:40])))
        name, kind, value = match.groups()
        if kind == ":<":
            raise LdifSyntaxError(number, _("{name}: values read from URLs are not supported").format(name=name))
        if kind == "::":
            try:
                # Binary values (jpegPhoto, userCertificate in a slapcat export) survive a round trip.
                value = base64.b64decode(value.strip(), validate=True).decode("utf-8", "surrogateescape")
            except (binascii.Error, ValueError):
                raise LdifSyntaxError(number, _("{name}: invalid base64").format(name=name)) from None
        if dn is None:
            if name.lower() == "version" and not attrs:
                continue
            if name.lower() != "dn":
                raise LdifSyntaxError(number, _("a record must start with 'dn:', found '{name}:'").format(name=name))
            if not _looks_like_dn(value):
                raise LdifSyntaxError(number, _("'{value}' is not a distinguished name").format(value=value[:60]))
            dn = value
            continue
        if name.lower() == "dn":
            raise LdifSyntaxError(number, "a second 'dn:' in one entry (is a blank line missing?)")
        if name.lower() in ("changetype", "control"):
            raise LdifSyntaxError(number, "change records are not supported: only entries")
        attrs.setdefault(name, []).append(value)
    if dn is not None:
        yield dn, attrs


def _looks_like_dn(value: str) -> bool:
    """Every RDN (split on unescaped commas) is attribute=value; the empty DN is the root."""
    return value == "" or all("=" in rdn for rdn in re.split(r"(?<!\\),", value))


def _line(name: str, value: str) -> str:
    if _SAFE.fullmatch(value) and not value.endswith(" "):
        line = f"{name}: {value}"
    else:
        line = f"{name}:: {base64.b64encode(value.encode('utf-8', 'surrogateescape')).decode('ascii')}"
    if len(line) <= FOLD_AT:
        return line
    parts = [line[:FOLD_AT]] + [" " + line[i : i + FOLD_AT - 1] for i in range(FOLD_AT, len(line), FOLD_AT - 1)]
    return "\n".join(parts)


#: names LDIF gives a meaning of their own inside a record: no attribute type is called so
RESERVED_NAMES = frozenset({"dn", "changetype", "control"})


def dumps(records: Iterable[Record]) -> str:
    chunks = []
    for dn, attrs in records:
        reserved = [name for name in attrs if name.lower() in RESERVED_NAMES]
        if reserved:  # written, it would read back as another record or be refused: never write such a file
            raise ValueError(f"{dn}: '{reserved[0]}' is not an attribute name LDIF can hold")
        lines = [_line("dn", dn)]
        lines += [_line(name, value) for name, values in attrs.items() for value in values]
        chunks.append("\n".join(lines) + "\n")
    return "\n".join(chunks)
