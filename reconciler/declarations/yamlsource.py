"""Read YAML files as plain data while keeping where each value came from.

Parsing uses libyaml (PyYAML's C composer) when available; values are built by a small
constructor of our own that rejects duplicate keys and keeps dates as ISO strings (so JSON
Schema can check them). A Document keeps its text, not its node tree: the tree is composed again
only when a problem found later, by the schema or a policy check, has to be reported at its line
and column. Keeping every file's tree (a Python object with two marks for every scalar) would
triple the memory of a large repository and make the garbage collector walk it over and over.
"""

from __future__ import annotations

import codecs
import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.i18n import _
from reconciler.problems import InputError, Problem
from reconciler.problems import Path as FieldPath
from reconciler.textfmt import CONTROL_CHARACTER, describe_character

_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_WILDCARD_RESOLVERS = tuple(_BaseLoader.yaml_implicit_resolvers.get(None, ()))


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """PyYAML's safe loader with the same tags, resolved with less Python per node.

    libyaml's composer calls back into Python for every node: ``resolve`` (the tag of a scalar, by
    PyYAML's implicit resolvers), ``descend_resolver`` and ``ascend_resolver`` (path resolvers, which
    the safe loader has none of). On a large repository those calls were a fifth of validate. The tag
    is the one BaseResolver.resolve gives: the first implicit resolver whose pattern matches, tried in
    the same order, else the default tag of the node's kind.
    """

    _wildcard = _WILDCARD_RESOLVERS
    _implicit: ClassVar[dict[str, tuple]] = {first: (*resolvers, *_WILDCARD_RESOLVERS)
                                             for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
                                             if first is not None}
    _default: ClassVar[dict[type, str]] = {ScalarNode: _STR_TAG, SequenceNode: _SEQ_TAG, MappingNode: _MAP_TAG}

    def resolve(self, kind: type, value: object, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode and implicit[0]:
            assert isinstance(value, str)
            for tag, regexp in self._implicit.get(value[:1], self._wildcard):
                if regexp.match(value):
                    return tag
        return self._default[kind]

    def descend_resolver(self, current_node: object, current_index: object) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass
_scalar_constructor = yaml.SafeLoader(b"")

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


@dataclass(frozen=True)
class Document:
    """One YAML file: its data and a way back to line and column."""

    file: str
    data: object
    #: the text; or the file it was read from, read again only if a problem must be located in it
    text: str | Path = field(repr=False)

    @cached_property
    def root(self) -> Node | None:
        """The file's node tree, composed on first use (only files with a problem need it)."""
        text = self.text
        if isinstance(text, Path):
            try:
                text = decode(text.read_bytes(), self.file)
            except (OSError, InputError):  # gone or broken since it was read: the problem keeps its file
                return None
        return yaml.compose(text, Loader=_Loader)

    def locate(self, path: FieldPath, *, key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of the value at ``path``, or of its key when ``key``.

        Falls back to the nearest existing ancestor when the path does not exist (a missing
        field is reported where its mapping starts).
        """
        node = self.root
        if node is None:
            return 1, 1
        found: Node = node
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if isinstance(node, MappingNode) and isinstance(part, str):
                for key_node, value_node in node.value:
                    if key_node.value == part:
                        found = key_node if (key and last) else value_node
                        node = value_node
                        break
                else:
                    break
            elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                found = node
            else:
                break
        return found.start_mark.line + 1, found.start_mark.column + 1

    def problem(self, path: FieldPath, message: str, *, rule: str, key: bool = False) -> Problem:
        line, column = self.locate(path, key=key)
        return Problem(self.file, message, path, line, column, rule)


class _Duplicate(Exception):
    def __init__(self, key_node: Node, first: Node) -> None:
        self.key_node = key_node
        self.first = first


class _Refused(Exception):
    """A value no field may hold (a control character, an infinite number), at ``node``."""

    def __init__(self, node: Node, message: str) -> None:
        self.node = node
        self.message = message
        self.path: list[str | int] = []


def _holds(tree: Node, node: Node) -> bool:
    if tree is node:
        return True
    if isinstance(tree, SequenceNode):
        return any(_holds(child, node) for child in tree.value)
    if isinstance(tree, MappingNode):
        return any(_holds(k, node) or _holds(v, node) for k, v in tree.value)
    return False


def _text(node: ScalarNode) -> str:
    value = node.value
    if not value.isprintable() and (found := CONTROL_CHARACTER.search(value)):
        raise _Refused(node, _("{character} is not allowed: every field is one line "
                               "of printable text").format(character=describe_character(found.group())))
    return value


def _construct(node: Node) -> object:
    if isinstance(node, ScalarNode):
        tag = node.tag
        if tag in (_STR, _TIMESTAMP):
            value = node.value
            # isprintable() is a fast C loop, True for nearly every value; only the rest are searched.
            return value if value.isprintable() else _text(node)
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return _scalar_constructor.construct_yaml_bool(node)
        if tag == _INT:
            return _scalar_constructor.construct_yaml_int(node)
        if tag == _FLOAT:
            number = _scalar_constructor.construct_yaml_float(node)
            if not math.isfinite(number):
                raise _Refused(node, _("'{value}' is not a finite number").format(value=node.value))
            return number
        return _text(node)
    if isinstance(node, SequenceNode):
        try:
            return [_construct(child) for child in node.value]
        except _Refused as refused:  # only on the way out of a refused value: find the item it is in
            refused.path.insert(0, next(i for i, child in enumerate(node.value) if _holds(child, refused.node)))
            raise
    if isinstance(node, MappingNode):
        result: dict[object, object] = {}
        first_keys: dict[object, Node] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node)
            if not isinstance(key, str | int | float | bool) and key is not None:
                key = str(key)
            if key in result:
                raise _Duplicate(key_node, first_keys[key])
            first_keys[key] = key_node
            try:
                result[key] = _construct(value_node)
            except _Refused as refused:
                refused.path.insert(0, key if isinstance(key, str | int) else str(key))
                raise
        return result
    raise TypeError(f"unexpected YAML node {node!r}")


#: Where an anchor (&name) or an alias (*name) may start; the event scan below decides for certain.
_MAYBE_ANCHOR = re.compile(r"(?:^|[\s\[{,])[&*][^\s\[\]{},]", re.MULTILINE)


def _refuse_anchors(text: str, file: str) -> None:
    """Refuse anchors and aliases before anything is composed.

    An alias makes one node appear in many places: nine aliases of nine aliases of ... (a "billion
    laughs" file of 526 bytes) expand to gigabytes when values are built. Unit files and settings
    never need them, so they are refused from the event stream, which stays as small as the text.
    """
    if not _MAYBE_ANCHOR.search(text):
        return
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                mark = event.start_mark
                raise InputError(Problem(file, _("YAML anchors and aliases (&name, *name) are not allowed: write "
                                           "each value out in full"), line=mark.line + 1, column=mark.column + 1,
                                         rule="yaml"))
    except yaml.YAMLError:
        return  # a syntax error: compose reports it at its place


_LEGACY_HINT = re.compile(rb"[\x80-\xff]")


def decode(raw: bytes, file: str) -> str:
    """UTF-8 text of a file (a byte-order mark is accepted); anything else is one clear problem."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        before = raw[: err.start]
        line = before.count(b"\n") + 1
        column = err.start - (before.rfind(b"\n") + 1) + 1
        hint = ""
        if _LEGACY_HINT.search(raw):
            hint = _(" (perhaps Windows-1258 or TCVN3 from an old editor)")
        raise InputError(
            Problem(
                file,
                _("file is not UTF-8: byte {byte} cannot be decoded{hint}; "
                  "save it as UTF-8").format(byte=f"0x{raw[err.start]:02X}", hint=hint),
                line=line,
                column=column,
                rule="encoding",
            )
        ) from None


def _reader_problem(file: str, text: str, err: yaml.reader.ReaderError) -> Problem:
    """A character YAML does not accept at all (a raw control byte): named, at its line and column."""
    position = err.position if isinstance(err.position, int) and err.position >= 0 else 0
    # libyaml counts bytes of the UTF-8 text; PyYAML's own reader counts characters.
    before = text[:position] if _Loader is yaml.SafeLoader else \
        text.encode("utf-8")[:position].decode("utf-8", errors="ignore")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    character = chr(err.character) if isinstance(err.character, int) else str(err.character)
    return Problem(file, _("{character} is not allowed in a unit file or settings: remove it").format(
                       character=describe_character(character)),
                   line=line, column=column, rule="yaml")


_TAB_WORD = re.compile(r"\btab\b", re.IGNORECASE)


def _yaml_problem(file: str, err: yaml.YAMLError, text: str = "") -> Problem:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    index = getattr(mark, "index", -1) if mark else -1
    at_tab = isinstance(index, int) and 0 <= index < len(text) and text[index] == "\t"
    if at_tab or _TAB_WORD.search(problem):
        message = _("tab character in indentation: YAML indents with spaces only")
    elif "another document" in problem:
        message = _("more than one YAML document (a line '---'): one file holds one unit")
    else:
        message = _("invalid YAML: {problem}").format(problem=problem) + (f" ({context})" if context else "")
    return Problem(file, message, line=line, column=column, rule="yaml")


def parse(text: str, file: str) -> Document:
    """Parse YAML text into a Document, raising InputError with one located problem."""
    try:
        _refuse_anchors(text, file)
        root = yaml.compose(text, Loader=_Loader)
    except yaml.reader.ReaderError as err:
        raise InputError(_reader_problem(file, text, err)) from None
    except yaml.YAMLError as err:
        raise InputError(_yaml_problem(file, err, text)) from None
    except RecursionError:
        raise InputError(Problem(file, _("the YAML is nested too deeply"), line=1, column=1, rule="yaml")) from None
    if root is None:
        raise InputError(Problem(file, _("file is empty"), line=1, column=1, rule="yaml"))
    try:
        data = _construct(root)
    except _Duplicate as dup:
        mark, first = dup.key_node.start_mark, dup.first.start_mark
        raise InputError(
            Problem(
                file,
                _("duplicate key '{key}' (first at line {line})").format(key=dup.key_node.value, line=first.line + 1),
                line=mark.line + 1,
                column=mark.column + 1,
                rule="yaml",
            )
        ) from None
    except _Refused as refused:
        mark = refused.node.start_mark
        raise InputError(Problem(file, refused.message, tuple(refused.path), line=mark.line + 1,
                                 column=mark.column + 1, rule="input")) from None
    except RecursionError:
        raise InputError(Problem(file, _("the YAML is nested too deeply"), line=1, column=1, rule="yaml")) from None
    except (yaml.YAMLError, ValueError) as err:
        raise InputError(Problem(file, _("invalid value: {error}").format(error=err), line=1, column=1,
                                 rule="yaml")) from None
    return Document(file, data, text)


def load(path: Path, display: str | None = None) -> Document:
    file = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(Problem(file, _("cannot read file: {reason}").format(reason=err.strerror),
                                 rule="io")) from None
    return parse(decode(raw, file), file)
