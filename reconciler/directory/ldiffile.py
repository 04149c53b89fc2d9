"""The embedded directory: entries kept in one LDIF file (``url: ldif:PATH``).

Same profile semantics as a server, no server needed: the Quick start and offline checks use it,
and ``plan`` reads a ``slapcat`` export the same way. Writes are committed all at once, atomically
(temporary file, fsync, rename), so a failed apply leaves the file as it was.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import socket
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from reconciler.directory import ldifcodec
from reconciler.directory.base import (
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
        #: inside single_save(): the entries as the block's writes left them, saved when it ends
        self._pending: dict[str, Entry] | None = None
        self._pending_changed = False
        self._lock_path = path.with_name(path.name + ".lock")

    def describe(self) -> str:
        return f"ldif:{self.path}"

    # -- reading ---------------------------------------------------------------------------------

    def _load(self) -> dict[str, Entry]:
        if self._entries is not None:
            return self._entries
        entries: dict[str, Entry] = {}
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:  # no file yet: an empty directory, written by the first apply
            handle = None
        except OSError as err:
            raise DirectoryError(f"{self.path}: cannot read the directory file: {_os_reason(err, self.path)}") \
                from None
        if handle is not None:
            with handle:
                try:
                    text = handle.read().decode("utf-8")
                except OSError as err:
                    raise DirectoryError(f"{self.path}: cannot read the directory file: {err.strerror}") from None
                except UnicodeDecodeError:
                    raise DirectoryError(f"{self.path}: not a valid LDIF file: the text is not UTF-8") from None
            try:
                for dn, record in ldifcodec.parse(text.removeprefix("\ufeff")):
                    attrs: dict[str, list[str]] = {}
                    for name, values in record.items():
                        _SPELLING.setdefault(name.lower(), name)
                        attrs.setdefault(name.lower(), []).extend(values)
                    entries[normalize_dn(dn)] = Entry(dn, attrs)
            except ldifcodec.LdifSyntaxError as err:
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

    @contextmanager
    def single_save(self) -> Iterator[None]:
        """Every write and marker of the block reaches the file in one save, when the block ends.

        An apply writes its changes in phases and then its marker: without this, each of them
        rewrote the whole file. Outcomes are reported as the block runs; if the final save fails,
        it raises (nothing at all was written, as when one write's save fails) and the caller must
        not claim any of them. A block left by an exception saves nothing.
        """
        if self._pending is not None:  # nested: the outer block saves
            yield
            return
        self._pending, self._pending_changed = dict(self._load()), False
        try:
            yield
            changed = self._pending_changed
        finally:
            pending, self._pending = self._pending, None
        if changed:
            self._save(pending)

    def write(self, operations: Iterable[Operation], on_done: OnDone) -> None:
        entries = self._pending if self._pending is not None else dict(self._load())
        outcomes: list[str | None] = []
        for op in operations:
            outcomes.append(self._apply(entries, op))
        if any(outcome is None for outcome in outcomes):
            if self._pending is not None:
                self._pending_changed = True
            else:  # all or nothing: a file that cannot be written fails the whole batch with one error
                self._save(entries)
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
        text = ldifcodec.dumps(
            (entry.dn, {_SPELLING.get(name, name): values for name, values in entry.attrs.items()})
            for entry in entries.values())
        directory = self.path.parent
        # Replacing the file would succeed even when it is read-only: respect the mode (or chattr +i).
        if self.path.is_file() and not os.access(self.path, os.W_OK):
            raise DirectoryError(f"{self.path}: cannot write the directory file: it is read-only")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(text.encode("utf-8"))
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
            raise DirectoryError(f"{self.path}: cannot write the directory file: {_os_reason(err, self.path)}") \
                from None
        self._entries = entries

    # -- markers, lock, passwords ------------------------------------------------------------------

    def _marker_dn(self, name: str) -> str:
        return f"cn={name},{self.base_dn}"

    def read_marker(self, name: str) -> Marker | None:
        entry = self._load().get(normalize_dn(self._marker_dn(name)))
        return Marker.decode(name, entry.first("description")) if entry else None

    def write_marker(self, marker: Marker) -> None:
        dn = self._marker_dn(marker.name)
        entries = self._pending if self._pending is not None else dict(self._load())
        entries[normalize_dn(dn)] = Entry(dn, {
            "objectclass": ["top", "applicationProcess"], "cn": [marker.name], "description": [marker.encode()],
        })
        if self._pending is not None:
            self._pending_changed = True
        else:
            self._save(entries)

    def acquire_lock(self, holder: str) -> None:
        info = {"holder": holder, "since": now_utc().isoformat(timespec="seconds")}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DirectoryError(f"{self._lock_path}: cannot create the apply lock: "
                                 f"{_os_reason(err, self._lock_path)}") from None
        try:
            fd = os.open(self._lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            current = self._read_lock()
            held = current.describe() if current else "held"
            raise LockedError(
                f"another apply holds the lock on {self.describe()} ({held}); if no apply is running, "
                "break it with --break-lock"
            ) from None
        except OSError as err:
            raise DirectoryError(f"{self._lock_path}: cannot create the apply lock: "
                                 f"{_os_reason(err, self._lock_path)}") from None
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


def _os_reason(err: OSError, path: Path) -> str:
    """An OSError in words that point at the cause: the folder that is a file, the path that is a folder."""
    if isinstance(err, (NotADirectoryError, FileExistsError)):
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                return f"{parent} is not a folder"
    if isinstance(err, IsADirectoryError) or path.is_dir():
        return f"{path} is a folder"
    return err.strerror or type(err).__name__


def default_holder() -> str:
    return f"{os.environ.get('GITHUB_ACTOR') or os.environ.get('USER') or 'unknown'}@{socket.gethostname()}"


__all__ = ["STATE_CN", "LdifDirectory", "default_holder"]
