"""One reconciliation scenario, two directories: the real slapd and the embedded LDIF file.

A Backend points a test repository at its directory and lets a test look at or tamper with raw
entries the way an administrator would (ldapmodify on the server, an edit of the LDIF file).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.directory import ldifcodec
from reconciler.directory.base import Add, Delete, Entry, Modify, Operation
from reconciler.directory.ldiffile import LdifDirectory, normalize_dn

from .slapd import Slapd

BASE_DN = "ou=mailboxes,dc=quangngai,dc=gov,dc=vn"


def dn_of(address: str) -> str:
    return f"uid={address.partition('@')[0]},{BASE_DN}"


@dataclass
class Backend:
    name: str
    root: Path
    slapd: Slapd | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.slapd.url if self.slapd else "ldif:var/directory.ldif"

    @property
    def ldif_path(self) -> Path:
        return self.root / "var" / "directory.ldif"

    def configure(self, settings_file: Path) -> None:
        text = settings_file.read_text(encoding="utf-8").replace("url: ldif:var/directory.ldif", f"url: {self.url}")
        settings_file.write_text(text, encoding="utf-8")

    # -- looking at entries -----------------------------------------------------------------------

    def entry(self, address: str) -> dict[str, list[str]] | None:
        """The raw entry of a mailbox (attribute names lowercase), operational attributes included."""
        dn = dn_of(address)
        if self.slapd is None:
            match = LdifDirectory(self.ldif_path, BASE_DN)._load().get(normalize_dn(dn))
            return match.attrs if match else None
        text = self.slapd.ldapsearch(dn, attrs=["*", "+"], scope="base") if self._exists(dn) else ""
        if not text.strip():
            return None
        (_, record), *_ = list(ldifcodec.parse(text))
        return {k.lower(): list(vs) for k, vs in record.items()}

    def _exists(self, dn: str) -> bool:
        assert self.slapd is not None
        return bool(self.slapd.ldapsearch(BASE_DN, f"(entrydn={dn})", attrs=["1.1"], scope="one").strip())

    # -- tampering like an administrator ----------------------------------------------------------

    def write(self, *operations: Operation) -> None:
        if self.slapd is None:
            errors: list[str] = []
            directory = LdifDirectory(self.ldif_path, BASE_DN)
            directory.write(list(operations), lambda _i, e: errors.append(e) if e else None)
            assert not errors, errors
            return
        for op in operations:
            self.slapd.ldapmodify(_change_record(op))

    def add(self, dn: str, attrs: dict[str, list[str]]) -> None:
        self.write(Add(dn, attrs))

    def modify(self, address: str, **replace: list[str]) -> None:
        self.write(Modify(dn_of(address), dict(replace)))

    def delete(self, address: str) -> None:
        self.write(Delete(dn_of(address)))


def _line(name: str, value: str) -> str:
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"


def _change_record(op: Operation) -> str:
    lines = [f"dn: {op.dn}"]
    match op:
        case Add(_, attrs):
            lines.append("changetype: add")
            lines += [_line(name, value) for name, values in attrs.items() for value in values]
        case Modify(_, replace):
            lines.append("changetype: modify")
            for name, values in replace.items():
                lines.append(f"replace: {name}")
                lines += [_line(name, value) for value in values]
                lines.append("-")
        case Delete(_):
            lines.append("changetype: delete")
    return "\n".join(lines) + "\n"


__all__ = ["BASE_DN", "Backend", "Entry", "dn_of"]
