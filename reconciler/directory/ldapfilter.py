"""RFC 4515 search filters, matched against entries already read (for `directory.ignore`).

The reconciler reads every entry under base_dn once; deciding which to ignore on our side keeps one
search for every backend (LDAP server, LDIF file). Values compare case-insensitively, as the
attributes a service account is told apart by (cn, uid, objectClass, employeeType, description) do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.directory.base import Entry
from reconciler.i18n import _

Matcher = Callable[[Entry], bool]


class FilterError(ValueError):
    pass


@dataclass
class _Parser:
    text: str
    pos: int = 0

    def fail(self, what: str) -> FilterError:
        return FilterError(_("{what} at character {position} of {text}").format(
            what=what, position=self.pos + 1, text=repr(self.text)))

    def expect(self, ch: str) -> None:
        if self.pos >= len(self.text) or self.text[self.pos] != ch:
            raise self.fail(_("expected '{character}'").format(character=ch))
        self.pos += 1

    def filter(self) -> tuple[Matcher, set[str]]:
        self.expect("(")
        if self.pos >= len(self.text):
            raise self.fail(_("unexpected end"))
        op = self.text[self.pos]
        if op in "&|":
            self.pos += 1
            parts = []
            while self.pos < len(self.text) and self.text[self.pos] == "(":
                parts.append(self.filter())
            if not parts:
                raise self.fail(_("'{operator}' needs at least one filter").format(operator=op))
            matchers = [m for m, _ in parts]
            attrs = set().union(*(a for _, a in parts))
            result: Matcher = ((lambda e: all(m(e) for m in matchers)) if op == "&"
                               else (lambda e: any(m(e) for m in matchers)))
        elif op == "!":
            self.pos += 1
            inner, attrs = self.filter()
            result = lambda e: not inner(e)  # noqa: E731
        else:
            result, attrs = self.item()
        self.expect(")")
        return result, attrs

    def item(self) -> tuple[Matcher, set[str]]:
        match = re.compile(r"([A-Za-z][A-Za-z0-9-]*|[0-9.]+)(~=|>=|<=|=)").match(self.text, self.pos)
        if not match:
            raise self.fail(_("expected attribute=value"))
        attr, op = match.group(1).lower(), match.group(2)
        self.pos = match.end()
        end = self.text.find(")", self.pos)
        if end < 0:
            raise self.fail(_("missing ')'"))
        raw = self.text[self.pos:end]
        self.pos = end
        if "(" in raw:
            raise self.fail(_("unescaped '(' in a value"))
        if op == "=" and raw == "*":
            return (lambda e: bool(e.all(attr))), {attr}
        if op == "=" and "*" in raw:
            pieces = [_unescape(p, self).casefold() for p in raw.split("*")]
            pattern = re.compile(".*".join(re.escape(p) for p in pieces), re.DOTALL)
            return (lambda e: any(pattern.fullmatch(v.casefold()) for v in e.all(attr))), {attr}
        value = _unescape(raw, self).casefold()
        if op == ">=":
            return (lambda e: any(v.casefold() >= value for v in e.all(attr))), {attr}
        if op == "<=":
            return (lambda e: any(v.casefold() <= value for v in e.all(attr))), {attr}
        return (lambda e: any(v.casefold() == value for v in e.all(attr))), {attr}


def _unescape(text: str, parser: _Parser) -> str:
    def byte(match: re.Match[str]) -> str:
        return chr(int(match.group(1), 16))

    if re.search(r"\\(?![0-9A-Fa-f]{2})", text):
        raise parser.fail(_("a backslash must be followed by two hex digits"))
    raw = re.sub(r"\\([0-9A-Fa-f]{2})", byte, text)
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def compile_filter(text: str) -> tuple[Matcher, set[str]]:
    """A matcher for ``text`` and the attributes it needs (lowercase); FilterError when malformed."""
    parser = _Parser(text.strip())
    matcher, attrs = parser.filter()
    if parser.pos != len(parser.text):
        raise parser.fail(_("unexpected text after the filter"))
    return matcher, attrs


def _dn_key(dn: str) -> str:
    return ",".join("=".join(side.strip() for side in part.split("=", 1)).lower() for part in dn.split(","))


def ignore_matcher(items: tuple[str, ...] | list[str]) -> tuple[Matcher | None, set[str]]:
    """`directory.ignore` as one matcher (None when empty) and the attributes its filters need."""
    if not items:
        return None, set()
    dns = {_dn_key(item) for item in items if not item.strip().startswith("(")}
    compiled = [compile_filter(item) for item in items if item.strip().startswith("(")]
    matchers = [m for m, _ in compiled]
    attrs = set().union(*(a for _, a in compiled)) if compiled else set()
    return (lambda e: _dn_key(e.dn) in dns or any(m(e) for m in matchers)), attrs
