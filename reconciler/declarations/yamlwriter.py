"""The one YAML writer: unit files (`import`) and entries to paste (`new`) read back as written.

A value is written plain only when every YAML reader gives back the same string: YAML 1.1 turns
`000123` into 83, `yes`/`off` into booleans, `~` into null and `2027-06-30` into a date, and
indicators such as `: `, ` #`, a leading `-` or `&` change the structure. Anything in doubt is
double-quoted with YAML escapes; Vietnamese and other Unicode text is written as is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from types import MappingProxyType

import yaml

_RESOLVER = yaml.resolver.Resolver()
#: what YAML 1.2 readers (editors, other languages) take for a number, boolean or null where PyYAML's YAML 1.1
#: does not, e.g. `000789` (not octal in 1.1, the integer 789 in 1.2) or `0o17`
_YAML12_NOT_STR = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
                             r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")
_STR = "tag:yaml.org,2002:str"
#: characters that start a YAML indicator when they open a plain scalar
_FIRST_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`= ")
#: never plain: structure in flow context, comments, mapping values, escapes
_NEVER_PLAIN = frozenset(":#,?[]{}\"'\\")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0",
            "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P"}

Comments = Mapping[tuple[str | int, ...], str]
NO_COMMENTS: Comments = MappingProxyType({})


def _printable(ch: str) -> bool:
    """What YAML readers accept unescaped (YAML 1.1 printable set, minus line breaks)."""
    code = ord(ch)
    return (0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF) and code not in (0xFEFF, 0x2028, 0x2029)


def _plain_ok(text: str) -> bool:
    if not text or text[0] in _FIRST_INDICATORS or text[-1] == " ":
        return False
    if any(ch in _NEVER_PLAIN or not _printable(ch) for ch in text):
        return False
    if _YAML12_NOT_STR.fullmatch(text):
        return False
    return _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if _printable(ch):
        return ch
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def quoted(text: str) -> str:
    return '"' + "".join(_escape(ch) for ch in text) + '"'


def scalar(value: object) -> str:
    """One scalar that reads back as ``value`` (str, bool, int, date or None)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return text if _plain_ok(text) else quoted(text)


def _flow(value: object) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return scalar(value)


def flow(value: object) -> str:
    """``value`` (a scalar, list or mapping) in YAML flow style on one line: ``{date: 2026-12-01, reason: x}``."""
    return _flow(value)


def _is_flat(value: object) -> bool:
    """Lists and mappings of scalars are written on one line (`[a, b]`, `{id: X, name: Y}`)."""
    items = value.values() if isinstance(value, Mapping) else value
    return all(not isinstance(v, Mapping | list | tuple) for v in items)  # type: ignore[union-attr]


def _comment(comments: Comments, path: tuple[str | int, ...]) -> str:
    text = comments.get(path)
    return f"  # {' '.join(text.split())}" if text else ""


def mapping_lines(data: Mapping[str, object], indent: int = 0, *, path: tuple[str | int, ...] = (),
                  comments: Comments = NO_COMMENTS, first_prefix: str | None = None, top: bool = False) -> list[str]:
    """A block mapping; ``first_prefix`` replaces the indentation of its first line (`  - `); ``top``: the
    document's own sections (unit:, mailboxes:) are always blocks."""
    lines: list[str] = []
    pad = " " * indent
    for i, (key, value) in enumerate(data.items()):
        lead = first_prefix if (i == 0 and first_prefix is not None) else pad
        here = (*path, key)
        # Flat values go on one line (owner: {id: …, name: …}), except the document's own sections.
        if isinstance(value, Mapping | list | tuple) and value and (not _is_flat(value) or top):
            lines.append(f"{lead}{scalar(key)}:{_comment(comments, here)}")
            lines += _block(value, indent + 2, here, comments)
        elif isinstance(value, Mapping | list | tuple):
            lines.append(f"{lead}{scalar(key)}: {_flow(value)}{_comment(comments, here)}")
        else:
            lines.append(f"{lead}{scalar(key)}: {scalar(value)}{_comment(comments, here)}")
    return lines


def _block(value: object, indent: int, path: tuple[str | int, ...], comments: Comments) -> list[str]:
    if isinstance(value, Mapping):
        return mapping_lines(value, indent, path=path, comments=comments)
    lines: list[str] = []
    assert isinstance(value, list | tuple)
    for i, item in enumerate(value):
        if isinstance(item, Mapping) and item:
            lines += sequence_item_lines(item, indent, path=(*path, i), comments=comments)
        else:
            lines.append(f"{' ' * indent}- {_flow(item)}{_comment(comments, (*path, i))}")
    return lines


def sequence_item_lines(item: Mapping[str, object], indent: int, *, path: tuple[str | int, ...] = (),
                        comments: Comments = NO_COMMENTS) -> list[str]:
    """One ``- key: value`` item of a block sequence, its keys aligned under the first."""
    return mapping_lines(item, indent + 2, path=path, comments=comments, first_prefix=" " * indent + "- ")


def document(data: Mapping[str, object], *, header: Sequence[str] = (), comments: Comments = NO_COMMENTS) -> str:
    """A whole YAML file; ``header`` lines become comments at its top."""
    lines = [f"# {line}" if line else "#" for line in header]
    lines += mapping_lines(data, comments=comments, top=True)
    return "\n".join(lines) + "\n"


def append_items(text: str, key: str, items: Sequence[Mapping[str, object]], *, comments: Comments = NO_COMMENTS,
                 ) -> str | None:
    """``text`` with ``items`` added at the end of the block sequence under the top-level ``key``, leaving every
    other byte as it was; None when that cannot be done safely (``key`` is not the file's last top-level key,
    or its sequence is written in flow style with items). Comment paths count on from the existing items."""
    root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(root, yaml.MappingNode) or not root.value or root.value[-1][0].value != key:
        return None
    value = root.value[-1][1]
    if isinstance(value, yaml.SequenceNode) and value.value and not value.flow_style:
        first = value.value[0].start_mark
        line = text.splitlines()[first.line]
        indent = line.rfind("-", 0, first.column)
        if indent < 0:
            return None
        start, head = len(value.value), text.rstrip("\n") + "\n"
    elif (isinstance(value, yaml.SequenceNode) and not value.value) or (
            isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:null"):
        # `key: []` or `key:` with nothing: the items become its block sequence
        indent, start = 2, 0
        head = text[:value.start_mark.index].rstrip(" ") + text[value.end_mark.index:]
        head = head.rstrip("\n").rstrip() + "\n"
    else:
        return None
    lines: list[str] = []
    for i, item in enumerate(items):
        lines += sequence_item_lines(item, indent, path=(key, start + i), comments=comments)
    return head + "\n".join(lines) + "\n"


def sequence_length(text: str, key: str) -> int:
    """How many items the top-level ``key`` of a YAML text holds (0 when none or not a sequence)."""
    root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if isinstance(root, yaml.MappingNode):
        for key_node, value in root.value:
            if key_node.value == key and isinstance(value, yaml.SequenceNode):
                return len(value.value)
    return 0
