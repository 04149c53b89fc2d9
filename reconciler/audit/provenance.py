"""Apply only what was reviewed, and leave a record of it: the git side of apply."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from reconciler.audit.gitrepo import GitRepo
from reconciler.audit.records import ApplyRecord, credentials_line, run_url
from reconciler.i18n import _
from reconciler.problems import ReconcilerError
from reconciler.settings import Settings


@dataclass(frozen=True, slots=True)
class Source:
    """Where the declarations being applied come from."""

    repo: GitRepo | None
    commit: str | None
    #: a clean tree at the tip of the apply branch: the record goes to git notes
    reviewed: bool

    def describe(self) -> str:
        if self.commit and self.reviewed:
            return _("commit {commit}").format(commit=self.commit[:12])
        if self.commit:
            return _("a local experiment on {commit}, not recorded").format(commit=self.commit[:12])
        return _("a folder outside git")


def check_source(settings: Settings, *, allow_dirty: bool) -> Source:
    """Refuse a dirty work tree or a commit that is not the tip of ``apply.branch`` (unless allowed)."""
    try:
        repo = GitRepo(settings.root)
        head = repo.head().hexsha
    except ReconcilerError as err:
        if allow_dirty:
            return Source(None, None, reviewed=False)
        raise ReconcilerError(_("{error}: apply records need a git repository (--allow-dirty for local "
                                "experiments)").format(error=err)) from None
    problems: list[str] = []
    dirty = repo.dirty_paths(["."])
    if dirty:
        shown = ", ".join(dirty[:3]) + (_(" and {count} more").format(count=len(dirty) - 3) if len(dirty) > 3 else "")
        problems.append(_("the work tree has uncommitted changes ({files}); apply only applies committed, reviewed "
                          "declarations").format(files=shown))
    branch = settings.apply_branch
    tip = repo.branch_tip(branch)
    if tip is None:
        problems.append(_("there is no branch '{branch}' (apply.branch) to check the commit against").format(
            branch=branch))
    elif tip.hexsha != head:
        if repo.is_ancestor(head, tip.hexsha):
            problems.append(_("commit {commit} is behind the tip of {branch} ({tip}): apply the tip").format(
                commit=head[:12], branch=branch, tip=tip.hexsha[:12]))
        else:
            problems.append(_("commit {commit} is not on {branch}: only merged, reviewed commits are applied").format(
                commit=head[:12], branch=branch))
    if allow_dirty:
        # A local experiment: never recorded (nor pushed) as if it were a reviewed apply.
        return Source(repo, head, reviewed=False)
    if problems:
        raise ReconcilerError(_("{problem}; use --allow-dirty for local experiments").format(problem=problems[0]))
    return Source(repo, head, reviewed=True)


def actor(env: dict[str, str] | os._Environ[str] = os.environ) -> str:
    return env.get("GITHUB_ACTOR") or env.get("GITLAB_USER_LOGIN") or env.get("USER") or "unknown"


def keep_credentials_record(root: Path, *, address: str, issued_at: str, directory: str) -> str | None:
    """Append the trace of issued credentials to the apply records (a note on HEAD) and push it;
    a warning when it could not be kept."""
    try:
        repo = GitRepo(root)
        head = repo.head().hexsha
    except ReconcilerError as err:
        return str(err)
    line = credentials_line(address=address, issued_by=actor(), issued_at=issued_at, directory=directory,
                            run_url=run_url(os.environ), commit=head)
    try:
        repo.add_note(head, line)
    except ReconcilerError as err:
        return _("cannot write the git note: {error}").format(error=err)
    if repo.has_remote():
        try:
            repo.push_notes()
        except ReconcilerError as err:
            return str(err)
    return None


def keep_record(source: Source, record: ApplyRecord) -> str | None:
    """Store the record as a git note on the applied commit and push it; a warning when it could not be."""
    if source.repo is None or source.commit is None or not source.reviewed:
        return None
    try:
        source.repo.add_note(source.commit, record.to_line())
    except ReconcilerError as err:
        return _("cannot write the git note: {error}").format(error=err)
    if source.repo.has_remote():
        try:
            source.repo.push_notes()
        except ReconcilerError as err:
            return str(err)
    return None
