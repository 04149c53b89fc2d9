"""The git edge: revisions, declarations at a revision, apply records as git notes (gitpython)."""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import git

from reconciler.declarations import desired as desired_files
from reconciler.declarations import yamlsource
from reconciler.i18n import _
from reconciler.model import Desired
from reconciler.problems import InputError, ReconcilerError

NOTES_REF = "reconciler"
NOTES_FULL_REF = f"refs/notes/{NOTES_REF}"
_PR_NUMBER = re.compile(r"(?:Merge pull request #(\d+)|\(#(\d+)\)\s*$|!(\d+)\b)")


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    date: datetime
    author: str
    email: str
    subject: str
    pr: str | None
    committer: str = ""

    @property
    def short(self) -> str:
        return self.sha[:10]


def _work_tree_blob_id(path: Path, length: int) -> str | None:
    """The id git gives the file's content (``git hash-object``), SHA-1 or SHA-256 by the id length."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256() if length == 64 else hashlib.sha1(usedforsecurity=False)
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


def pr_number(message: str) -> str | None:
    """The pull request a commit subject names: GitHub merge commits, squash merges, GitLab."""
    match = _PR_NUMBER.search(message.splitlines()[0] if message else "")
    return next((g for g in match.groups() if g), None) if match else None


class GitRepo:
    def __init__(self, root: Path) -> None:
        if shutil.which("git") is None:
            raise ReconcilerError(_("git is not installed: history, reports, --base and apply records need it"))
        try:
            self.repo = git.Repo(root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise ReconcilerError(_("{path}: not a git repository").format(path=root)) from None
        self.root = Path(self.repo.working_tree_dir or root)
        self._first_parents: dict[str, dict[str, int]] = {}

    # -- revisions -------------------------------------------------------------------------------

    def commit(self, rev: str) -> git.Commit:
        try:
            return self.repo.commit(rev)
        except (git.BadName, ValueError, git.GitCommandError):
            raise ReconcilerError(_("unknown git revision '{rev}'").format(rev=rev)) from None

    def head(self) -> git.Commit:
        try:
            return self.repo.head.commit
        except ValueError:
            raise ReconcilerError(_("the repository has no commit yet")) from None

    def info(self, commit: git.Commit) -> CommitInfo:
        message = str(commit.message)
        return CommitInfo(commit.hexsha, commit.committed_datetime.astimezone(UTC), str(commit.author.name),
                          str(commit.author.email), message.splitlines()[0] if message else "",
                          pr_number(message), str(commit.committer.name))

    def commit_at(self, moment: datetime, rev: str = "HEAD") -> git.Commit | None:
        """The last commit of ``rev`` committed at or before ``moment``."""
        shas = self.repo.git.rev_list("-1", f"--before={moment.isoformat()}", "--first-parent", rev).split()
        return self.repo.commit(shas[0]) if shas else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        try:
            self.repo.git.merge_base("--is-ancestor", ancestor, descendant)
        except git.GitCommandError:
            return False
        return True

    def branch_tip(self, branch: str) -> git.Commit | None:
        for ref in (f"origin/{branch}", branch):
            with contextlib.suppress(ReconcilerError):
                return self.commit(ref)
        return None

    def dirty_paths(self, paths: list[str]) -> list[str]:
        """Files under ``paths`` that differ from HEAD, untracked ones included."""
        output = self.repo.git.status("--porcelain", "--untracked-files=all", "--", *paths)
        return [line[3:] for line in output.splitlines() if line.strip()]

    # -- declarations at a revision --------------------------------------------------------------

    def desired_at_rev(self, rev: str, mailboxes_dir: str) -> Desired:
        return self.desired_at(self.commit(rev), mailboxes_dir)

    def _unit_blob_objects(self, commit: git.Commit, mailboxes_dir: str) -> Iterator[git.Blob]:
        try:
            tree = commit.tree / mailboxes_dir
        except KeyError:
            return
        for blob in tree.blobs:
            if PurePosixPath(blob.path).suffix in desired_files.UNIT_FILE_SUFFIXES:
                yield blob

    def unit_blobs(self, commit: git.Commit, mailboxes_dir: str) -> Iterator[tuple[str, bytes]]:
        for blob in self._unit_blob_objects(commit, mailboxes_dir):
            yield blob.path, blob.data_stream.read()

    def desired_at(self, commit: git.Commit, mailboxes_dir: str, *, reuse: Desired | None = None,
                   changed_only: bool = False) -> Desired:
        """The declarations as committed; files that did not parse then are left out.

        ``reuse`` is the work tree's declarations (unit files named relative to the repository root,
        as `validate` names them): a committed unit file whose blob id equals the work tree file's is
        taken from there instead of being parsed again. A pull request touches a few unit
        files, so `validate --base` and `plan --base` parse little more than the work tree.
        ``changed_only`` leaves those files out: the lifecycle rules find nothing in a file that did
        not change.
        """
        reusable = {unit.file: unit for unit in reuse.units} if reuse is not None else {}
        units = []
        with desired_files.cyclic_gc_paused():  # parsing builds many objects and no cycles: see there
            for blob in self._unit_blob_objects(commit, mailboxes_dir):
                unit = reusable.get(blob.path)
                if unit is not None and _work_tree_blob_id(self.root / blob.path, len(blob.hexsha)) == blob.hexsha:
                    if not changed_only:
                        units.append(unit)
                    continue
                with contextlib.suppress(InputError):
                    raw = blob.data_stream.read()
                    parsed, _doc, _problems = desired_files.parse_unit(yamlsource.decode(raw, blob.path), blob.path)
                    if parsed is not None:
                        units.append(parsed)
        return Desired(tuple(units))

    def commits_touching(self, path: str, rev: str = "HEAD", since: datetime | None = None) -> list[git.Commit]:
        """Commits (oldest first) whose change touches ``path``, merges left out."""
        options: dict[str, object] = {"paths": path, "reverse": True, "no_merges": True}
        if since is not None:
            options["since"] = since.isoformat()
        return list(self.repo.iter_commits(rev, **options))

    def changed_files(self, commit: git.Commit, under: str) -> list[str]:
        parent = commit.parents[0] if commit.parents else None
        if parent is None:
            return [item.path for item in commit.tree.traverse() if str(item.path).startswith(under + "/")
                    and item.type == "blob"]
        return sorted({p for d in parent.diff(commit, paths=under) for p in (d.a_path, d.b_path) if p})

    def blob_text(self, commit: git.Commit | None, path: str) -> str | None:
        if commit is None:
            return None
        try:
            raw = (commit.tree / path).data_stream.read()
        except KeyError:
            return None
        try:
            return yamlsource.decode(raw, path)
        except InputError:
            return None

    def first_parents(self, rev: str = "HEAD") -> dict[str, int]:
        """The commits of ``rev``'s first-parent chain (what happened on the branch itself), sha -> age
        (0 the oldest); computed once per revision."""
        tip = self.commit(rev).hexsha
        if tip not in self._first_parents:
            shas = self.repo.git.rev_list("--first-parent", "--reverse", tip).split()
            self._first_parents[tip] = {sha: i for i, sha in enumerate(shas)}
        return self._first_parents[tip]

    def on_branch(self, commit: git.Commit, rev: str = "HEAD") -> bool:
        """Was ``commit`` made on ``rev``'s branch itself (a direct commit or a squash merge)?"""
        return commit.hexsha in self.first_parents(rev)

    def merged_by(self, commit: git.Commit, rev: str = "HEAD") -> CommitInfo | None:
        """The merge commit that brought ``commit`` into ``rev`` (the pull request's approval), or None
        when ``commit`` was made on the branch itself (a direct push, a squash merge, the first import).

        The merge is the oldest commit of ``rev``'s first-parent chain that contains ``commit``: its
        first parent does not, so it is the one that brought the commit in. A later, unrelated merge
        never gets the credit.
        """
        chain = self.first_parents(rev)
        if commit.hexsha in chain:
            return None
        descendants = self.repo.git.rev_list("--ancestry-path", f"{commit.hexsha}..{rev}").split()
        on_chain = [sha for sha in descendants if sha in chain]
        if not on_chain:
            return None
        bringer = self.repo.commit(min(on_chain, key=chain.__getitem__))
        if len(bringer.parents) < 2 or self.is_ancestor(commit.hexsha, bringer.parents[0].hexsha):
            return None
        return self.info(bringer)

    def has_apply_records(self) -> bool:
        """Does this clone hold the apply records? A fresh clone does not fetch refs/notes/*."""
        try:
            self.repo.git.show_ref("--verify", "--quiet", NOTES_FULL_REF)
        except git.GitCommandError:
            return False
        return True

    # -- apply records ---------------------------------------------------------------------------

    def add_note(self, commit: str, text: str) -> None:
        """Append one record to the commit's note (records are JSON lines; several applies may share a commit).

        The record goes through a file: a large apply's record exceeds the argument size limit.
        """
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".json", delete=False) as handle:
            handle.write(text + "\n")
        try:
            self.repo.git.notes("--ref", NOTES_REF, "append", "-F", handle.name, commit)
        except git.GitCommandError as err:
            reason = (err.stderr or str(err)).strip().splitlines()
            raise ReconcilerError(reason[-1] if reason else str(err)) from None
        finally:
            Path(handle.name).unlink(missing_ok=True)

    def notes(self) -> Iterator[tuple[str, str]]:
        """(commit sha, note text) for every apply record note."""
        try:
            listing = self.repo.git.notes("--ref", NOTES_REF, "list")
        except git.GitCommandError:
            return
        for line in listing.splitlines():
            note_sha, _, commit_sha = line.partition(" ")
            yield commit_sha, self.repo.git.cat_file("blob", note_sha)

    def has_remote(self, name: str = "origin") -> bool:
        return any(remote.name == name for remote in self.repo.remotes)

    def push_notes(self, remote: str = "origin") -> None:
        """Push the records; when the remote moved on, merge its records (line union) and push again."""
        try:
            self.repo.git.push(remote, NOTES_FULL_REF)
            return
        except git.GitCommandError:
            pass
        try:
            self.repo.git.fetch(remote, f"+{NOTES_FULL_REF}:refs/notes/{NOTES_REF}-remote")
            self.repo.git.notes("--ref", NOTES_REF, "merge", "-s", "cat_sort_uniq", f"refs/notes/{NOTES_REF}-remote")
            self.repo.git.push(remote, NOTES_FULL_REF)
        except git.GitCommandError as err:
            reason = (err.stderr or str(err)).strip().splitlines()
            raise ReconcilerError(_("cannot push the apply record to {remote}: {reason}").format(
                remote=remote, reason=reason[-1] if reason else err)) from None
