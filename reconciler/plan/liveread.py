"""Read the live directory while the declarations are validated: in a forked child for an LDAP
server, in a thread otherwise.

Validation is Python work under the interpreter lock, and so is turning a hundred thousand search
entries into accounts (1.9 s of CPU at 100,000 entries). In a thread the two take turns on one
core; in a child process the read runs on the machine's other core and hands its result back
pickled (a quarter of a second to receive). The child is forked before any thread is started
here, talks only to the server on a connection of its own, and ends with ``os._exit``; a thread of
this process receives its result as soon as it is sent, so the child's memory is given back early. A failure in the
child comes back as the same one-line error a read in this process would have raised.

The embedded LDIF directory (and anything that is not an LDAP server) is read in a thread: its
file is parsed once and kept by the directory object, which a child could not hand back.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable
from typing import Any

from reconciler.directory.base import Directory, DirectoryError
from reconciler.problems import ReconcilerError

#: what a read returns: the accounts, or the profile's whole view of the directory
ReadLive = Callable[[Directory], Any]


class Reading:
    """A read started in the background; ``result()`` waits for it and raises what it raised."""

    def result(self) -> Any:
        raise NotImplementedError

    def wait(self) -> None:
        """Wait for the read to end, whatever its outcome (before the caller closes the directory)."""


class ThreadReading(Reading):
    def __init__(self, directory: Directory, read_live: ReadLive) -> None:
        self.live: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.live = read_live(directory)
            except BaseException as err:  # handed to the caller's thread, raised there
                self.error = err

        self.thread = threading.Thread(target=run, name="directory-read", daemon=True)
        self.thread.start()

    def wait(self) -> None:
        self.thread.join()

    def result(self) -> Any:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.live is not None
        return self.live


class ChildReading(Reading):
    def __init__(self, pid: int, read_fd: int) -> None:
        self.pid = pid
        self.outcome: tuple[str, object] | None = None

        def receive() -> None:
            # Here, not in result(): the child's memory is given back, and the pickled bytes are
            # dropped, as soon as the read is done, not when validation ends.
            with os.fdopen(read_fd, "rb") as pipe:
                data = pipe.read()
            _, status = os.waitpid(self.pid, 0)
            self.pid = 0
            self.outcome = _decoded(data, os.waitstatus_to_exitcode(status))

        self.receiver = threading.Thread(target=receive, name="directory-read-pipe", daemon=True)
        self.receiver.start()

    def wait(self) -> None:
        self.receiver.join()

    def result(self) -> Any:
        self.wait()
        assert self.outcome is not None
        kind, value = self.outcome
        if kind == "live":
            return value
        message = str(value)
        raise DirectoryError(message) if kind == "directory" else ReconcilerError(message)

    def __del__(self) -> None:  # never leave a child behind (an interrupted caller)
        if getattr(self, "pid", 0):
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)


def _decoded(data: bytes, exit_code: int) -> tuple[str, object]:
    try:
        kind, value = pickle.loads(data)
    except Exception:
        return "other", f"the directory read ended without a result (exit code {exit_code})"
    return kind, value


def start(directory: Directory, read_live: ReadLive) -> Reading:
    """Start reading ``directory`` with ``read_live``; in a forked child when that is safe."""
    from reconciler.directory.ldapserver import LdapDirectory
    from reconciler.directory.lock import quiet_heartbeats

    if not isinstance(directory, LdapDirectory) or not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
        return ThreadReading(directory, read_live)
    # Forking a process that runs other threads could copy a lock one of them holds into the child. An
    # apply's lock heartbeat is held between two beats for the fork; any other thread keeps the read here.
    with quiet_heartbeats() as waiting:
        others = [t for t in threading.enumerate() if t is not threading.current_thread() and t not in waiting]
        if others:
            return ThreadReading(directory, read_live)
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            return ThreadReading(directory, read_live)
    if pid == 0:  # the child: never returns into the caller's code
        status = 1
        try:
            os.close(read_fd)
            try:
                outcome: tuple[str, object] = ("live", read_live(directory))
            except DirectoryError as err:
                outcome = ("directory", str(err))
            except ReconcilerError as err:
                outcome = ("other", str(err))
            except BaseException as err:
                outcome = ("other", f"internal error while reading the directory: {type(err).__name__}: {err}")
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
            status = 0
        finally:
            os._exit(status)  # no atexit handlers, no finalizers of the parent's objects, no flushing
    os.close(write_fd)
    return ChildReading(pid, read_fd)
