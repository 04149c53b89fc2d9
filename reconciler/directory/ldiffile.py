"""The embedded directory: entries kept in one LDIF file (``url: ldif:PATH``).

Same profile semantics as a server, no server needed: the Quick start and offline checks use it,
and ``plan`` reads a ``slapcat`` export the same way. Writes are committed all at once, atomically
(temporary file, fsync, rename), so a failed apply leaves the file as it was.

Every writer (apply, ``credentials issue``, an administrator's script through this class) takes the
same operating-system lock on ``PATH.lock`` (``fcntl.flock``) and re-reads the file under it before
writing, so no writer's changes overwrite another's. The kernel releases the lock when its process
ends, however it ends: a killed apply never leaves it behind.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import socket
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from reconciler.directory import ldifcodec
from reconciler.directory import lock as locking
from reconciler.directory.base import (
    ASSERTION_FAILED_TEXT,
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
)
from reconciler.directory.profiles.openldap import parse_generalized_time
from reconciler.i18n import _

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
        #: the open lock file while this object holds the lock
        self._lock_fd: int | None = None

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
            raise DirectoryError(_("{path}: cannot read the directory file: {reason}").format(
                path=self.path, reason=_os_reason(err, self.path))) from None
        if handle is not None:
            with handle:
                try:
                    text = handle.read().decode("utf-8")
                except OSError as err:
                    raise DirectoryError(_("{path}: cannot read the directory file: {reason}").format(
                        path=self.path, reason=err.strerror)) from None
                except UnicodeDecodeError:
                    raise DirectoryError(_("{path}: not a valid LDIF file: {reason}").format(
                        path=self.path, reason=_("the text is not UTF-8"))) from None
            try:
                for dn, record in ldifcodec.parse(text.removeprefix("\ufeff")):
                    attrs: dict[str, list[str]] = {}
                    for name, values in record.items():
                        _SPELLING.setdefault(name.lower(), name)
                        attrs.setdefault(name.lower(), []).extend(values)
                    entries[normalize_dn(dn)] = Entry(dn, attrs)
            except ldifcodec.LdifSyntaxError as err:
                raise DirectoryError(_("{path}: not a valid LDIF file: {reason}").format(path=self.path,
                                                                                       reason=err)) from None
        self._entries = entries
        return entries

    def search(self, object_class: str, attributes: Sequence[str]) -> Iterator[Entry]:
        base = normalize_dn(self.base_dn)
        wanted = object_class.lower()
        for key, entry in self._load().items():
            # "*": every entry, as the LDAP filter (objectClass=*) gives
            if parent_dn(key) == base and (wanted == "*" or wanted in (v.lower() for v in entry.all("objectClass"))):
                yield entry

    def read_entry(self, dn: str, attributes: Sequence[str] = ()) -> Entry | None:
        """One entry as the file has it now (read again)."""
        self._entries = None
        return self._load().get(normalize_dn(dn))

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
        with self._exclusive("a writer"):  # the apply's lock when it holds it; the file is read under it
            self._pending, self._pending_changed = dict(self._load()), False
            try:
                yield
                changed = self._pending_changed
            finally:
                pending, self._pending = self._pending, None
            if changed:
                self._save(pending)

    def write(self, operations: Iterable[Operation], on_done: OnDone) -> None:
        if self._pending is not None:  # inside single_save(): the block's end saves
            outcomes = [self._apply(self._pending, op) for op in operations]
            if any(outcome is None for outcome in outcomes):
                self._pending_changed = True
        else:
            with self._exclusive("a writer"):
                entries = dict(self._load())
                outcomes = [self._apply(entries, op) for op in operations]
                if any(outcome is None for outcome in outcomes):
                    # All or nothing: a file that cannot be written fails the whole batch with one error.
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
            case Delete(dn, still_before):
                if key not in entries:
                    return f"{dn}: no such entry"
                if still_before is not None and not _at_or_before(entries[key], *still_before):
                    return f"{dn}: {ASSERTION_FAILED_TEXT}"
                del entries[key]
        return None

    def _save(self, entries: dict[str, Entry]) -> None:
        text = ldifcodec.dumps(
            (entry.dn, {_SPELLING.get(name, name): values for name, values in entry.attrs.items()})
            for entry in entries.values())
        directory = self.path.parent
        # Replacing the file would succeed even when it is read-only: respect the mode (or chattr +i).
        if self.path.is_file() and not os.access(self.path, os.W_OK):
            raise DirectoryError(_("{path}: cannot write the directory file: {reason}").format(
                path=self.path, reason=_("it is read-only")))
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
            raise DirectoryError(_("{path}: cannot write the directory file: {reason}").format(
                path=self.path, reason=_os_reason(err, self.path))) from None
        self._entries = entries

    # -- markers, lock, passwords ------------------------------------------------------------------

    def _marker_dn(self, name: str) -> str:
        return f"cn={name},{self.base_dn}"

    def read_marker(self, name: str) -> Marker | None:
        entry = self._load().get(normalize_dn(self._marker_dn(name)))
        return Marker.decode(name, entry.first("description")) if entry else None

    def write_marker(self, marker: Marker) -> None:
        dn = self._marker_dn(marker.name)
        entry = Entry(dn, {"objectclass": ["top", "applicationProcess"], "cn": [marker.name],
                           "description": [marker.encode()]})
        if self._pending is not None:  # inside single_save(): the block's end saves
            self._pending[normalize_dn(dn)] = entry
            self._pending_changed = True
            return
        with self._exclusive("a writer"):
            entries = dict(self._load())
            entries[normalize_dn(dn)] = entry
            self._save(entries)

    # -- the lock: an operating-system lock on PATH.lock, held by the process while it runs -------------

    def _open_lock_file(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise DirectoryError(_("{path}: cannot create the apply lock: {reason}").format(
                path=self._lock_path, reason=_os_reason(err, self._lock_path))) from None

    def _take(self, holder: str) -> int:
        """The lock file, locked by us, with who holds it written in it; LockedError when another process has it."""
        while True:
            fd = self._open_lock_file()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                current = self._read_lock()
                held = current.describe() if current else _("held")
                raise LockedError(_("another apply holds the lock on {directory} ({held}); it is released "
                                    "when that process ends").format(directory=self.describe(), held=held)) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self._lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder removed the file as we opened it: lock the one that is there now
        record = locking.LockRecord.new(holder)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record.marker().data).encode("utf-8"), 0)
        self._entries = None  # re-read under the lock
        return fd

    @contextlib.contextmanager
    def _exclusive(self, holder: str) -> Iterator[None]:
        """Hold the lock for one write: the apply's if this object has it, else a short one of its own."""
        if self._lock_fd is not None:
            yield
            return
        fd = self._take(holder)
        try:
            yield
        finally:
            _unlock(fd, self._lock_path)
            self._entries = None

    def acquire_lock(self, holder: str) -> None:
        if self._lock_fd is None:
            self._lock_fd = self._take(holder)

    def _read_lock(self) -> LockInfo | None:
        try:
            data = json.loads(self._lock_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return locking.info_of(Marker(locking.LOCK_CN, data)) if isinstance(data, dict) else None

    def release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            _unlock(fd, self._lock_path)

    def break_lock(self, *, force: bool = False) -> LockInfo | None:
        """An operating-system lock cannot be stale: held means its process is alive, so it is never broken."""
        if not self._lock_path.exists():
            return None
        fd = self._open_lock_file()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            info = self._read_lock() or LockInfo("unknown", "unknown")
            raise LockedError(locking.refused_message(
                self.describe(), info, "a running process holds it (an operating-system lock ends with its "
                "process, so it is never stale and --force cannot break it)")) from None
        # Nobody holds it: a file left by a process that was killed before it could remove it.
        info = self._read_lock()
        _unlock(fd, self._lock_path)
        return info

    def server_time(self) -> datetime | None:
        return None  # the embedded directory's clock is the local one

    def set_password(self, dn: str, password: str, *, must_change: bool) -> None:
        replace = {"userPassword": [ssha(password)], "pwdReset": ["TRUE"] if must_change else []}
        errors: list[str] = []
        self.write([Modify(dn, replace)], lambda _i, err: errors.append(err) if err else None)
        if errors:
            raise DirectoryError(errors[0])

    def close(self) -> None:
        self.release_lock()
        self._entries = None


def _os_reason(err: OSError, path: Path) -> str:
    """An OSError in words that point at the cause: the folder that is a file, the path that is a folder."""
    if isinstance(err, (NotADirectoryError, FileExistsError)):
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                return _("{path} is not a folder").format(path=parent)
    if isinstance(err, IsADirectoryError) or path.is_dir():
        return _("{path} is a folder").format(path=path)
    return err.strerror or type(err).__name__


def _unlock(fd: int, path: Path) -> None:
    """Remove the lock file, then close it, which releases the lock (a process that opened the old file
    meanwhile sees it is gone and locks the new one: see ``_take``)."""
    with contextlib.suppress(OSError):
        os.unlink(path)
    os.close(fd)


def _at_or_before(entry: Entry, attribute: str, limit: str) -> bool:
    value = entry.first(attribute)
    if value is None:
        return False
    try:
        return parse_generalized_time(value) <= parse_generalized_time(limit)
    except ValueError:
        return False


def default_holder() -> str:
    return f"{os.environ.get('GITHUB_ACTOR') or os.environ.get('USER') or 'unknown'}@{socket.gethostname()}"


__all__ = ["STATE_CN", "LdifDirectory", "default_holder"]
