"""After a lost connection or a signal: re-read the entries whose outcome is unknown, and say what happened.

A write whose answer was lost may or may not have been carried out. The apply record must not call
it failed when the directory has it, nor applied when it has not: each such entry is read again
and compared with what the change wanted (``satisfied``), and the record says the outcome was
re-read. When the directory cannot be read within a bounded time the outcome stays ``unknown``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reconciler.directory.base import DirectoryError, Entry
from reconciler.model import Account, Action, Change
from reconciler.problems import ReconcilerError

#: how long to wait for an unreachable directory to answer the re-read (a restarting server)
REREAD_PATIENCE_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class Reread:
    change: Change
    #: True: the directory has the change; False: it has not; None: it could not be read
    applied: bool | None
    detail: str | None = None


def satisfied(change: Change, account: Account | None) -> bool:
    """Does the live account (None: no entry) already show what ``change`` wanted?"""
    if change.action is Action.REMOVE:
        return account is None
    if account is None:
        return False
    live = {**account.fields, "status": account.status.value}
    for field, wanted in (change.after or {}).items():
        have = live.get(field)
        if isinstance(wanted, list):
            if sorted(str(v) for v in wanted) != sorted(str(v) for v in (have or [])):  # type: ignore[union-attr]
                return False
        elif have != wanted:
            return False
    return True


def reread(changes: Sequence[tuple[Change, str]], read_entry: Callable[[str], Entry | None],
           to_account: Callable[[Entry], Account], *, patience: float = REREAD_PATIENCE_SECONDS,
           sleep: Callable[[float], None] = time.sleep) -> list[Reread]:
    """Re-read the entry (by DN) of each change, read it through the profile (``to_account``, which raises
    a ReconcilerError for an entry it cannot read); retry an unreachable directory for up to ``patience`` s."""
    deadline = time.monotonic() + patience
    results: list[Reread] = []
    for change, dn in changes:
        while True:
            try:
                entry = read_entry(dn)
                account = to_account(entry) if entry is not None else None
            except DirectoryError as err:
                if time.monotonic() < deadline:
                    sleep(0.25)
                    continue
                results.append(Reread(change, None, str(err)))
                break
            except ReconcilerError as err:  # the profile cannot read the entry: not what the change wrote
                results.append(Reread(change, False, str(err)))
                break
            if account is not None and account.address.lower() != change.address.lower():
                account = None  # another entry took the DN: not our change
            results.append(Reread(change, satisfied(change, account)))
            break
    return results
