"""JSON Schema checks of unit files and settings, with errors a person can act on."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

import jsonschema
from jsonschema import Draft202012Validator

from .problems import Problem
from .yamlsource import Document

UNIT_SCHEMA = "unit.schema.json"
SETTINGS_SCHEMA = "settings.schema.json"

#: Field names that can only mean a credential: refused with an explanation, not just "unknown".
SECRET_FIELD = re.compile(r"pass(word|wd|phrase)?|secret|token|credential|api[_-]?key|private[_-]?key|pin$", re.I)
_SECRET_ADVICE = (
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
            return "nothing (null)"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "a list"
        case dict():
            return "a mapping"
    return type(value).__name__


_EXPECTED = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "a whole number",
             "number": "a number", "boolean": "true or false"}


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
                message = f"field '{key}' looks like a secret: {_SECRET_ADVICE}"
            else:
                message = f"unknown field '{key}'; allowed: {', '.join(sorted(allowed))}"
            found.append(doc.problem((*path, str(key)), message, rule="schema", key=True))
        return found
    if keyword == "required":
        missing = [k for k in error.validator_value if k not in error.instance]  # type: ignore[union-attr]
        return [doc.problem(path, f"missing required field '{k}'", rule="schema") for k in missing]
    if keyword == "enum":
        allowed_values = ", ".join(str(v) for v in error.validator_value)  # type: ignore[union-attr]
        return [doc.problem(path, f"'{error.instance}' is not allowed; use one of: {allowed_values}",
                            rule="schema")]
    if keyword == "type":
        expected = _EXPECTED.get(str(error.validator_value), str(error.validator_value))
        message = f"expected {expected}, found {_type_name(error.instance)}"
        if path and path[-1] == "owner" and isinstance(error.instance, list):
            message += ": a mailbox has exactly one owner (no shared accounts)"
        return [doc.problem(path, message, rule="schema")]
    if keyword == "format" and error.validator_value == "date":
        return [doc.problem(path, f"'{error.instance}' is not a date; write YYYY-MM-DD", rule="schema")]
    if keyword == "maxItems" and path and path[-1] == "forward_to":
        return [doc.problem(path, "at most one forwarding address", rule="schema")]
    if keyword == "uniqueItems":
        return [doc.problem(path, "the list repeats an entry", rule="schema")]
    if keyword == "pattern" and path and path[-1] == "id":
        return [doc.problem(path, f"'{error.instance}' must be lowercase ASCII words joined by '-'",
                            rule="schema")]
    if keyword == "minLength":
        return [doc.problem(path, "must not be empty", rule="schema")]
    return [doc.problem(path, error.message, rule="schema")]


def check(doc: Document, schema_name: str) -> list[Problem]:
    """Every schema problem of a document, located; an empty list when it conforms."""
    validator = _validator(schema_name)
    problems: list[Problem] = []
    for error in validator.iter_errors(doc.data):
        problems.extend(_problems_for(error, doc))
    problems.sort(key=lambda p: (p.line, p.column))
    return problems
