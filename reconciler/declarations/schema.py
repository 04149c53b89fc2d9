"""JSON Schema checks of unit files and settings, with errors a person can act on.

jsonschema finds and explains every error, but walking 100,000 mailboxes with it takes longer than
reading them. So each schema is also compiled (see ``fast_check``) into a plain predicate that
answers one question quickly: does this document certainly conform? Only when it cannot say so is
the document given to jsonschema, which then reports exactly what it always has. The schema file
stays the only statement of the rules: the predicate is derived from it, and a keyword the
compiler does not know leaves that schema to jsonschema alone.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib import resources

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

from reconciler.declarations.yamlsource import Document
from reconciler.i18n import N_, _
from reconciler.problems import Problem

UNIT_SCHEMA = "unit.schema.json"
SETTINGS_SCHEMA = "settings.schema.json"

#: Field names that can only mean a credential: refused with an explanation, not just "unknown".
SECRET_FIELD = re.compile(r"pass(word|wd|phrase)?|secret|token|credential|api[_-]?key|private[_-]?key|pin$", re.I)
_SECRET_ADVICE = N_(
    "secrets never go in git: give first passwords with `reconciler credentials issue`, "
    "and directory credentials through RECONCILER_BIND_PASSWORD(_FILE)"
)


@cache
def load_schema(name: str) -> dict[str, object]:
    text = resources.files("reconciler").joinpath("schemas", name).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)


def _type_name(value: object) -> str:
    match value:
        case None:
            return _("nothing (null)")
        case bool():
            return _("a boolean")
        case int() | float():
            return _("a number")
        case str():
            return _("a string")
        case list():
            return _("a list")
        case dict():
            return _("a mapping")
    return type(value).__name__


_EXPECTED = {"object": N_("a mapping"), "array": N_("a list"), "string": N_("a string"),
             "integer": N_("a whole number"), "number": N_("a number"), "boolean": N_("true or false")}


def _problems_for(error: jsonschema.ValidationError, doc: Document) -> list[Problem]:
    path = tuple(error.absolute_path)
    keyword = error.validator
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))  # type: ignore[union-attr]
        found = []
        for key in error.instance:
            if key in allowed:
                continue
            if SECRET_FIELD.search(str(key)):
                message = _("field '{key}' looks like a secret: {advice}").format(key=key, advice=_(_SECRET_ADVICE))
            else:
                hint = did_you_mean(str(key), allowed)
                message = _("unknown field '{key}';{hint} allowed: {allowed}").format(
                    key=key, hint=hint, allowed=", ".join(sorted(allowed)))
            found.append(doc.problem((*path, str(key)), message, rule="schema", key=True))
        return found
    if keyword == "required":
        missing = [k for k in error.validator_value if k not in error.instance]  # type: ignore[union-attr]
        return [doc.problem(path, _("missing required field '{field}'").format(field=k), rule="schema")
                for k in missing]
    if keyword == "enum":
        allowed_values = ", ".join(str(v) for v in error.validator_value)  # type: ignore[union-attr]
        return [doc.problem(path, _("'{value}' is not allowed; use one of: {allowed}").format(value=error.instance,
                                                                                    allowed=allowed_values),
                            rule="schema")]
    if keyword == "type":
        expected = _EXPECTED.get(str(error.validator_value), str(error.validator_value))
        message = _("expected {expected}, found {found}").format(expected=_(expected),
                                                                  found=_type_name(error.instance))
        if path and path[-1] == "owner" and isinstance(error.instance, list):
            message += _(": a mailbox has exactly one owner (no shared accounts)")
        return [doc.problem(path, message, rule="schema")]
    if keyword == "format" and error.validator_value == "date":
        return [doc.problem(path, _("'{value}' is not a date; write YYYY-MM-DD").format(
            value=error.instance), rule="schema")]
    if keyword == "maxItems" and path and path[-1] == "forward_to":
        return [doc.problem(path, _("at most one forwarding address"), rule="schema")]
    if keyword == "uniqueItems":
        return [doc.problem(path, _("the list repeats an entry"), rule="schema")]
    if keyword == "pattern" and path and path[-1] == "id":
        return [doc.problem(path, _("'{value}' must be lowercase ASCII words joined by '-'").format(
            value=error.instance),
                            rule="schema")]
    if keyword == "minLength":
        return [doc.problem(path, _("must not be empty"), rule="schema")]
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [doc.problem(path, _("{value} is out of range: {range}").format(
            value=repr(error.instance), range=_range(error.schema)), rule="schema")]
    return [doc.problem(path, error.message, rule="schema")]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` did you mean 'status'?`` for a near miss (a typo), else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return _(" did you mean '{name}'?").format(name=close[0]) if close else ""
def _range(schema: object) -> str:
    bounds = schema if isinstance(schema, dict) else {}
    low = (_("above {value}") if "exclusiveMinimum" in bounds else _("at least {value}")).format(value=str(
        bounds.get("exclusiveMinimum", bounds.get("minimum", "")))) if (
        "minimum" in bounds or "exclusiveMinimum" in bounds) else ""
    high = (_("below {value}") if "exclusiveMaximum" in bounds else _("at most {value}")).format(value=str(
        bounds.get("exclusiveMaximum", bounds.get("maximum", "")))) if (
        "maximum" in bounds or "exclusiveMaximum" in bounds) else ""
    return _("use a value {bounds}").format(bounds=_(" and ").join(part for part in (low, high) if part))


Predicate = Callable[[object], bool]


class _Unsupported(Exception):
    """The schema uses something ``compile_fast_check`` does not compile: jsonschema checks it alone."""


#: Keywords that do not constrain a value.
_ANNOTATIONS = frozenset({"$schema", "$comment", "$defs", "title", "description", "default", "examples",
                          "deprecated", "readOnly", "writeOnly"})
_OBJECT_KEYWORDS = frozenset({"properties", "additionalProperties", "required"})
_ARRAY_KEYWORDS = frozenset({"items", "minItems", "maxItems", "uniqueItems"})
_STRING_KEYWORDS = frozenset({"minLength", "maxLength", "pattern"})
_KEYWORDS = _ANNOTATIONS | _OBJECT_KEYWORDS | _ARRAY_KEYWORDS | _STRING_KEYWORDS | {"type", "enum", "format",
                                                                                     "$ref", "minimum"}

#: ``type`` values, each by jsonschema's test or a stricter one (no 1.0 as an integer, no numbers.Number).
_TYPE_TESTS: dict[str, Predicate] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: type(value) is bool,
    "null": lambda value: value is None,
    "integer": lambda value: type(value) is int,
    "number": lambda value: type(value) is int or type(value) is float,
}


def _always(value: object) -> bool:
    return True


def _all_of(checks: list[Predicate]) -> Predicate:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def all_hold(value: object) -> bool:
        return all(holds(value) for holds in checks)

    return all_hold


class _FastCompiler:
    """Turns a JSON Schema into a conservative predicate: True only where jsonschema finds no error.

    It knows the keywords the project's schemas use, each with jsonschema's meaning or a stricter
    one (an enum value that is not a string, a repeated item that is not a string, a subclass of
    dict: all "not certain", so jsonschema decides). Anything else raises _Unsupported.
    """

    def __init__(self, root: Mapping[str, object], format_checker: FormatChecker) -> None:
        self.root = root
        self.format_checker = format_checker
        self.refs: dict[str, Predicate] = {}
        self.resolving: set[str] = set()

    def compile(self, schema: object, *, at_root: bool = False) -> Predicate:
        if schema is True:
            return _always
        if schema is False:
            return lambda value: False
        if not isinstance(schema, dict):
            raise _Unsupported(f"schema {schema!r}")
        unknown = schema.keys() - _KEYWORDS - ({"$id"} if at_root else set())
        if unknown:
            raise _Unsupported(", ".join(sorted(unknown)))
        checks: list[Predicate] = []
        if "$ref" in schema:
            checks.append(self._ref(schema["$ref"]))
        # A single type of object, array or string is tested by that kind's own check (one call, not two).
        kind = schema.get("type")
        if kind == "object" or schema.keys() & _OBJECT_KEYWORDS:
            checks.append(self._object(schema, exact=kind == "object"))
        if kind == "array" or schema.keys() & _ARRAY_KEYWORDS:
            checks.append(self._array(schema, exact=kind == "array"))
        if kind == "string" or schema.keys() & _STRING_KEYWORDS:
            checks.append(self._string(schema, exact=kind == "string"))
        if "type" in schema and kind not in ("object", "array", "string"):
            checks.append(self._type(kind))
        if "enum" in schema:
            checks.append(self._enum(schema["enum"]))
        if "format" in schema:
            checks.append(self._format(schema["format"]))
        if "minimum" in schema:
            checks.append(self._minimum(schema["minimum"]))
        return _all_of(checks)

    @staticmethod
    def _minimum(bound: object) -> Predicate:
        if type(bound) not in (int, float):
            raise _Unsupported("minimum")
        # As jsonschema: the bound applies to numbers only (a bool is not one); other values pass it.
        return lambda value: type(value) not in (int, float) or value >= bound  # type: ignore[operator]

    def _ref(self, ref: object) -> Predicate:
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")) or "~" in ref or "%" in ref:
            raise _Unsupported(f"$ref {ref!r}")
        if ref in self.resolving:
            raise _Unsupported(f"recursive $ref {ref!r}")
        if ref not in self.refs:
            target: object = self.root
            for part in ref[2:].split("/") if ref != "#" else ():
                if not isinstance(target, dict) or part not in target:
                    raise _Unsupported(f"$ref {ref!r} does not resolve")
                target = target[part]
            self.resolving.add(ref)
            self.refs[ref] = self.compile(target, at_root=ref == "#")
            self.resolving.discard(ref)
        return self.refs[ref]

    @staticmethod
    def _type(names: object) -> Predicate:
        wanted = [names] if isinstance(names, str) else names
        if not isinstance(wanted, list) or not all(isinstance(n, str) and n in _TYPE_TESTS for n in wanted):
            raise _Unsupported(f"type {names!r}")
        tests = [_TYPE_TESTS[n] for n in wanted]
        if len(tests) == 1:
            return tests[0]
        return lambda value: any(test(value) for test in tests)

    @staticmethod
    def _enum(values: object) -> Predicate:
        if not isinstance(values, list):
            raise _Unsupported("enum")
        strings = frozenset(v for v in values if type(v) is str)
        return lambda value: type(value) is str and value in strings

    def _format(self, name: object) -> Predicate:
        if not isinstance(name, str):
            raise _Unsupported("format")
        conforms = self.format_checker.conforms  # the very check jsonschema runs
        return lambda value: conforms(value, name)

    def _object(self, schema: dict[str, object], *, exact: bool) -> Predicate:
        properties_schema = schema.get("properties", {})
        required = schema.get("required", [])
        additional = schema.get("additionalProperties", True)
        if not isinstance(properties_schema, dict) or not isinstance(required, list) or \
                (additional is not True and additional is not False):
            raise _Unsupported("properties, required or additionalProperties")
        properties = {name: self.compile(sub) for name, sub in properties_schema.items()}
        must_have = frozenset(required)
        closed = additional is False

        def object_holds(value: object) -> bool:
            if not isinstance(value, dict):
                return not exact
            if not must_have <= value.keys():
                return False
            for key, item in value.items():
                holds = properties.get(key)
                if holds is None:
                    if closed:
                        return False
                elif not holds(item):
                    return False
            return True

        return object_holds

    def _array(self, schema: dict[str, object], *, exact: bool) -> Predicate:
        items = self.compile(schema["items"]) if "items" in schema else _always
        min_items = schema.get("minItems", 0)
        max_items = schema.get("maxItems")
        unique = schema.get("uniqueItems", False)
        if type(min_items) is not int or not (max_items is None or type(max_items) is int) or type(unique) is not bool:
            raise _Unsupported("minItems, maxItems or uniqueItems")

        def array_holds(value: object) -> bool:
            if not isinstance(value, list):
                return not exact
            if len(value) < min_items or (max_items is not None and len(value) > max_items):
                return False
            if unique and not (all(type(v) is str for v in value) and len(set(value)) == len(value)):
                return False
            return all(items(item) for item in value)

        return array_holds

    @staticmethod
    def _string(schema: dict[str, object], *, exact: bool) -> Predicate:
        min_length = schema.get("minLength", 0)
        max_length = schema.get("maxLength")
        pattern = schema.get("pattern")
        if type(min_length) is not int or not (max_length is None or type(max_length) is int) or \
                not (pattern is None or isinstance(pattern, str)):
            raise _Unsupported("minLength, maxLength or pattern")
        try:
            search = re.compile(pattern).search if pattern is not None else None  # as jsonschema's re.search
        except re.error:
            raise _Unsupported(f"pattern {pattern!r}") from None

        def string_holds(value: object) -> bool:
            if not isinstance(value, str):
                return not exact
            if len(value) < min_length or (max_length is not None and len(value) > max_length):
                return False
            return search is None or search(value) is not None

        return string_holds


def compile_fast_check(schema: Mapping[str, object], format_checker: FormatChecker) -> Predicate | None:
    """A predicate that is True only for documents jsonschema finds no error in, or None when the
    schema uses something the compiler does not know (then every document goes to jsonschema)."""
    try:
        return _FastCompiler(schema, format_checker).compile(schema, at_root=True)
    except _Unsupported:
        return None


@cache
def fast_check(name: str) -> Predicate | None:
    return compile_fast_check(load_schema(name), _validator(name).format_checker)


def check(doc: Document, schema_name: str, *, fast: bool = True) -> list[Problem]:
    """Every schema problem of a document, located; an empty list when it conforms.

    A document the compiled predicate accepts conforms; any other is walked by jsonschema, which
    finds and words every problem (``fast=False`` skips the predicate, for tests).
    """
    certain = fast_check(schema_name) if fast else None
    if certain is not None and certain(doc.data):
        return []
    validator = _validator(schema_name)
    problems: list[Problem] = []
    for error in validator.iter_errors(doc.data):
        problems.extend(_problems_for(error, doc))
    problems.sort(key=lambda p: (p.line, p.column))
    return problems
