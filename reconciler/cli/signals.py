"""SIGINT and SIGTERM during apply: stop cleanly on the first, at once on the second.

While an apply runs, a signal only sets a flag that the apply checks between operations: no
exception is ever raised inside a client library call (python-ldap holds an internal lock there,
and a KeyboardInterrupt escaping it left the apply hanging with the directory lock held). The apply
then stops submitting, collects the answers in flight, records what was confirmed, releases the
lock and exits 1. A second signal ends the process at once (the directory lock may then stay; on
the same host --break-lock sees that its process is gone).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from reconciler.i18n import _

HANDLED = (signal.SIGINT, signal.SIGTERM)


class StopRequests:
    def __init__(self) -> None:
        self.received: int | None = None
        self._raise_now = False

    def __call__(self) -> bool:
        return self.received is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else ""

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is not None:
            sys.stderr.write(_("error: {message}").format(message=_(
                "{signal} again: stopped at once; the directory may be partly changed and the apply lock may "
                "remain: run `reconciler apply` again (with --break-lock if it says the lock is held)").format(
                    signal=signal.Signals(signum).name)) + "\n")
            sys.stderr.flush()
            os._exit(1)
        self.received = signum
        if self._raise_now:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequests]:
        previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            yield self  # only the main thread receives signals
            return
        for signum in HANDLED:
            previous[signum] = signal.signal(signum, self._handle)
            # Restart interrupted system calls (SA_RESTART): libldap would take an EINTR in the middle of
            # a write for a lost connection.
            signal.siginterrupt(signum, False)
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    @contextlib.contextmanager
    def raising(self) -> Iterator[None]:
        """Around pure-Python waits (a confirmation prompt): a signal interrupts them right away."""
        if self.received is not None:
            raise KeyboardInterrupt
        self._raise_now = True
        try:
            yield
        finally:
            self._raise_now = False
