"""apply_plan's bookkeeping when the directory fails part-way: every change gets an outcome."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from reconciler.declarations.validation import Validation
from reconciler.directory.base import DirectoryError, OnDone, Operation
from reconciler.model import Desired, Kind, Mailbox, Owner, SourceRef, Status, Unit
from reconciler.plan import apply as reconcile
from reconciler.plan.diff import diff
from reconciler.settings import DirectorySettings, Settings

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
SETTINGS = Settings(("quangngai.gov.vn",), DirectorySettings("ldif:x", "ou=mailboxes,dc=quangngai,dc=gov,dc=vn"))


class BreaksAfter:
    """A directory whose connection drops after ``ok`` writes (what a server restart looks like)."""

    base_dn = SETTINGS.directory.base_dn

    def __init__(self, ok: int) -> None:
        self.ok = ok

    def read_entry(self, dn: str, attributes: object) -> None:
        return None  # re-read after the lost connection: the server has none of the unanswered writes

    def write(self, operations: Iterable[Operation], on_done: OnDone) -> None:
        for index, _op in enumerate(operations):
            if index == self.ok:
                raise DirectoryError("ldap://127.0.0.1:389: lost the connection")
            on_done(index, None)


def computed(n: int) -> reconcile.Computed:
    mailboxes = tuple(Mailbox(f"u{i}@quangngai.gov.vn", "Nguyễn Văn An", Kind.PERSONAL, Owner(f"QN-{i}", "An"),
                              Status.ACTIVE, "so-tttt", source=SourceRef("f", i)) for i in range(n))
    desired = Desired((Unit("so-tttt", "Sở", "f", mailboxes),))
    plan = diff(desired, {}, today=date(2026, 11, 28), grace_days=30)
    return reconcile.Computed(Validation(desired, [], 1), {}, plan, None)


def test_a_connection_lost_midway_fails_the_rest_and_keeps_what_went_through():
    result = reconcile.apply_plan(computed(5), SETTINGS, BreaksAfter(2), now=NOW)  # type: ignore[arg-type]
    assert [o.ok for o in result.outcomes] == [True, True, False, False, False]
    assert {o.change.address for o in result.outcomes} == {f"u{i}@quangngai.gov.vn" for i in range(5)}
    assert all("lost the connection" in (o.error or "") for o in result.failed)


def test_a_directory_that_fails_before_any_change_is_one_error():
    with pytest.raises(DirectoryError, match="lost the connection"):
        reconcile.apply_plan(computed(3), SETTINGS, BreaksAfter(0), now=NOW)  # type: ignore[arg-type]


def test_progress_is_reported_once_per_change():
    seen = []
    reconcile.apply_plan(replace(computed(4)), SETTINGS, BreaksAfter(10), now=NOW,  # type: ignore[arg-type]
                         on_progress=seen.append)
    assert len(seen) == 4 and all(o.ok for o in seen)
