"""The embedded directory: entries kept in one LDIF file (``url: ldif:PATH``).

Same profile semantics as a server, no server needed: the Quick start and offline checks use it,
and ``plan`` reads a ``slapcat`` export the same way. Writes are committed all at once, atomically
(temporary file, fsync, rename), so a failed apply leaves the file as it was.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import secrets
import socket
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import ldif

from .base import (
    STATE_CN,
    Add,
    Delete,
    DirectoryError,
    Entry,
    LockedError,
    LockInfo,
    Marker,
    Modify,
    OnDone,
    Operation,
    now_utc,
)

#: how attribute names are spelled when the file is written (entries keep lowercase keys for lookups)
_SPELLING: dict[str, str] = {name.lower(): name for name in (
    "objectClass", "uid", "mail", "cn", "displayName", "sn", "givenName", "ou", "employeeNumber", "employeeType",
    "mailLocalAddress", "mailRoutingAddress", "pwdEndTime", "pwdLastSuccess", "pwdReset", "userPassword",
    "description",
)}


def normalize_dn(dn: str) -> str:
    return ",".join(part.strip().lower() for part in dn.split(","))


def parent_dn(dn: str) -> str:
    # DN values in this profile never hold escaped commas (uid is [a-z0-9._-]).
    return normalize_dn(dn.partition(",")[2])


def ssha(password: str) -> str:
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


class LdifDirectory:
    def __init__(self, path: Path, base_dn: str) -> None:
        self.path = path
        self.base_dn = base_dn
        self._entries: dict[str, Entry] | None = None
        self._lock_path = path.with_name(path.name + ".lock")

    def describe(self) -> str:
        return f"ldif:{self.path}"

    # -- reading ---------------------------------------------------------------------------------

    def _load(self) -> dict[str, Entry]:
        if self._entries is not None:
            return self._entries
        entries: dict[str, Entry] = {}
        if self.path.exists():
            try:
                with self.path.open("rb") as handle:
                    for dn, record in ldif.LDIFParser(handle).parse():
                        if dn is None:
                            continue
                        attrs: dict[str, list[str]] = {}
                        for name, values in record.items():
                            _SPELLING.setdefault(name.lower(), name)
                            attrs.setdefault(name.lower(), []).extend(
                                v if isinstance(v, str) else v.decode("utf-8", "replace") for v in values
                            )
                        entries[normalize_dn(dn)] = Entry(dn, attrs)
            except OSError as err:
                raise DirectoryError(f"{self.path}: cannot read the directory file: {err.strerror}") from None
            except (ValueError, UnicodeDecodeError) as err:
                raise DirectoryError(f"{self.path}: not a valid LDIF file: {err}") from None
        self._entries = entries
        return entries

    def search(self, object_class: str, attributes: Sequence[str]) -> Iterator[Entry]:
        base = normalize_dn(self.base_dn)
        wanted = object_class.lower()
        for key, entry in self._load().items():
            if parent_dn(key) == base and wanted in (v.lower() for v in entry.all("objectClass")):
                yield entry

    # -- writing ---------------------------------------------------------------------------------

    def write(self, operations: Sequence[Operation], on_done: OnDone) -> None:
        entries = dict(self._load())
        outcomes: list[str | None] = []
        for op in operations:
            outcomes.append(self._apply(entries, op))
        if any(outcome is None for outcome in outcomes):
            try:
                self._save(entries)
            except DirectoryError as err:
                outcomes = [outcome or str(err) for outcome in outcomes]
        for index, outcome in enumerate(outcomes):
            on_done(index, outcome)

    @staticmethod
    def _apply(entries: dict[str, Entry], op: Operation) -> str | None:
        key = normalize_dn(op.dn)
        match op:
            case Add(dn, attrs):
                if key in entries:
                    return f"{dn}: already exists"
                entries[key] = Entry(dn, {k.lower(): list(v) for k, v in attrs.items() if v})
            case Modify(dn, replace):
                if key not in entries:
                    return f"{dn}: no such entry"
                attrs = dict(entries[key].attrs)
                for name, values in replace.items():
                    if values:
                        attrs[name.lower()] = list(values)
                    else:
                        attrs.pop(name.lower(), None)
                entries[key] = Entry(entries[key].dn, attrs)
            case Delete(dn):
                if key not in entries:
                    return f"{dn}: no such entry"
                del entries[key]
        return None

    def _save(self, entries: dict[str, Entry]) -> None:
        buffer = io.BytesIO()
        writer = ldif.LDIFWriter(buffer)
        for entry in entries.values():
            writer.unparse(entry.dn, {_SPELLING.get(name, name): values for name, values in entry.attrs.items()})
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(buffer.getvalue())
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as err:
            raise DirectoryError(f"{self.path}: cannot write the directory file: {err.strerror}") from None
        self._entries = entries

    # -- markers, lock, passwords ------------------------------------------------------------------

    def _marker_dn(self, name: str) -> str:
        return f"cn={name},{self.base_dn}"

    def read_marker(self, name: str) -> Marker | None:
        entry = self._load().get(normalize_dn(self._marker_dn(name)))
        return Marker.decode(name, entry.first("description")) if entry else None

    def write_marker(self, marker: Marker) -> None:
        dn = self._marker_dn(marker.name)
        entries = dict(self._load())
        entries[normalize_dn(dn)] = Entry(dn, {
            "objectclass": ["top", "applicationProcess"], "cn": [marker.name], "description": [marker.encode()],
        })
        self._save(entries)

    def acquire_lock(self, holder: str) -> None:
        info = {"holder": holder, "since": now_utc().isoformat(timespec="seconds")}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            current = self._read_lock()
            held = current.describe() if current else "held"
            raise LockedError(
                f"another apply holds the lock on {self.describe()} ({held}); if no apply is running, "
                "break it with --break-lock"
            ) from None
        except OSError as err:
            raise DirectoryError(f"{self._lock_path}: cannot create the lock: {err.strerror}") from None
        with os.fdopen(fd, "w") as handle:
            json.dump(info, handle)

    def _read_lock(self) -> LockInfo | None:
        try:
            data = json.loads(self._lock_path.read_text(encoding="utf-8"))
            return LockInfo(str(data.get("holder", "?")), str(data.get("since", "?")))
        except (OSError, ValueError, AttributeError):
            return None

    def release_lock(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._lock_path.unlink()

    def break_lock(self) -> LockInfo | None:
        info = self._read_lock()
        existed = self._lock_path.exists()
        self.release_lock()
        return info or (LockInfo("unknown", "unknown") if existed else None)

    def set_password(self, dn: str, password: str, *, must_change: bool) -> None:
        replace = {"userPassword": [ssha(password)], "pwdReset": ["TRUE"] if must_change else []}
        errors: list[str] = []
        self.write([Modify(dn, replace)], lambda _i, err: errors.append(err) if err else None)
        if errors:
            raise DirectoryError(errors[0])

    def close(self) -> None:
        self._entries = None


def default_holder() -> str:
    return f"{os.environ.get('GITHUB_ACTOR') or os.environ.get('USER') or 'unknown'}@{socket.gethostname()}"


__all__ = ["STATE_CN", "LdifDirectory", "default_holder"]
