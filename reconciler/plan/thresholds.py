"""What earlier applies tell the safety thresholds: the accounts managed before this change (the
denominator) and the disables and removals of the rolling window, read from git."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.audit.gitrepo import GitRepo
from reconciler.audit.history import apply_records
from reconciler.audit.records import ApplyRecord
from reconciler.directory.base import Marker
from reconciler.model import Desired
from reconciler.problems import ReconcilerError
from reconciler.settings import Settings


@dataclass(frozen=True, slots=True)
class ApplyHistory:
    """What earlier applies tell the thresholds."""

    #: the declarations of the last applied commit (the accounts managed before this change), if known
    before: Desired | None
    records: list[ApplyRecord]


def apply_history(settings: Settings, last_apply: Marker | None, *,
                  reuse: Desired | None = None) -> ApplyHistory | None:
    """The last applied commit's declarations and the apply records, from git; None outside git.

    ``reuse`` (the work tree's declarations): the unit files unchanged since that commit are not parsed
    again."""
    try:
        repo = GitRepo(settings.root)
        records = apply_records(repo)
    except ReconcilerError:
        return None
    commit = last_apply.data.get("commit") if last_apply is not None else None
    before = None
    if isinstance(commit, str) and commit:
        try:
            before = repo.desired_at(repo.commit(commit), settings.mailboxes_dir, reuse=reuse)
        except ReconcilerError:
            before = None
    return ApplyHistory(before, records)
