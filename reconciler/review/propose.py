"""--propose: write the review's disables on a new git branch, so they are reviewed like any other change.

The unit files are edited as text, minimally: the status value becomes ``disabled`` and a ``review``
note (date and reason) is inserted after the status line, so comments, order and quoting stay as they
were. The branch is built in a temporary worktree: the current checkout and branch are never touched.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import git
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.audit.gitrepo import GitRepo
from reconciler.declarations import desired as desired_files
from reconciler.declarations import yamlsource, yamlwriter
from reconciler.i18n import _
from reconciler.model import Mailbox, Status
from reconciler.problems import InputError, ReconcilerError
from reconciler.review import render
from reconciler.review.findings import Finding
from reconciler.review.record import REVIEWS_DIR
from reconciler.review.run import Review
from reconciler.settings import Settings
from reconciler.textfmt import BOM


@dataclass(frozen=True, slots=True)
class Disabled:
    address: str
    unit: str
    file: str
    reason: str


@dataclass(frozen=True, slots=True)
class ProposalResult:
    branch: str
    commit: str
    disabled: list[Disabled]
    needs_person: list[Finding]
    record: str
    message: str


def record_path(as_of: date) -> str:
    return f"{REVIEWS_DIR}/{as_of.isoformat()}.md"


# -- the YAML edit (pure) ---------------------------------------------------------------------------------


def _pairs(node: MappingNode) -> dict[str, tuple[Node, Node]]:
    return {k.value: (k, v) for k, v in node.value if isinstance(k, ScalarNode)}


def _last_end(node: Node) -> int:
    if isinstance(node, MappingNode | SequenceNode) and node.value and not node.flow_style:
        last = node.value[-1]
        return _last_end(last[1] if isinstance(last, tuple) else last)
    return node.end_mark.index


def review_note(on: date, reason: str) -> str:
    """The inserted ``{date, reason}``, written by the one YAML writer: any reason reads back as written,
    on one line."""
    return yamlwriter.flow({"date": on, "reason": reason})


def disable_in_text(text: str, edits: Mapping[int, str], on: date, file: str = "",
                    addresses: Mapping[int, str] | None = None) -> str:
    """``text`` with each mailbox ``index -> reason`` set to ``status: disabled`` and given a review note;
    ``addresses`` (index -> address) names the mailboxes in errors."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)  # pure Python: marks count characters
    if not isinstance(root, MappingNode) or "mailboxes" not in _pairs(root):
        raise ReconcilerError(_("{file}: no 'mailboxes' list to edit").format(file=file))
    items = _pairs(root)["mailboxes"][1]
    newline = "\r\n" if "\r\n" in text else "\n"
    replacements: list[tuple[int, int, str]] = []
    for index, reason in edits.items():
        if not isinstance(items, SequenceNode) or index >= len(items.value) or \
                not isinstance(items.value[index], MappingNode):
            raise ReconcilerError(_("{file}: {address}: {field} is not where the review found it").format(
                file=file, address=(addresses or {}).get(index, "?"), field=f"mailboxes[{index}]"))
        node = items.value[index]
        pairs = _pairs(node)
        if "status" not in pairs:
            raise ReconcilerError(_("{file}: {address}: {field} has no status to change").format(
                file=file, address=(addresses or {}).get(index, "?"), field=f"mailboxes[{index}]"))
        status_key, status_value = pairs["status"]
        note = review_note(on, reason)
        replacements.append((status_value.start_mark.index, status_value.end_mark.index, "disabled"))
        if "review" in pairs:
            key, value = pairs["review"]
            if node.flow_style:
                replacements.append((value.start_mark.index, value.end_mark.index, note))
            else:
                end = text.find("\n", _last_end(value))
                end = len(text) if end < 0 else end
                end -= 1 if text[end - 1:end] == "\r" else 0
                replacements.append((key.start_mark.index, end, f"review: {note}"))
        elif node.flow_style:
            replacements.append((status_value.end_mark.index, status_value.end_mark.index, f", review: {note}"))
        else:
            line_end = text.find("\n", status_value.end_mark.index)
            indent = " " * status_key.start_mark.column
            if line_end < 0:
                replacements.append((len(text), len(text), f"{newline}{indent}review: {note}"))
            else:
                replacements.append((line_end + 1, line_end + 1, f"{indent}review: {note}{newline}"))
    for start, end, new in sorted(replacements, key=lambda r: (r[0], r[1]), reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _checked(text: str, file: str, indexes: list[int], addresses: Mapping[int, str] | None = None) -> None:
    """The edited file still conforms to the schema and says disabled where it should (a guard, not a rule)."""
    unit, _doc, problems = desired_files.parse_unit(text, file)
    if problems or unit is None:
        raise ReconcilerError(_("{file}: the proposed edit would not validate: {problem}").format(
            file=file, problem=problems[0] if problems else "?"))
    for index in indexes:
        if unit.mailboxes[index].status is not Status.DISABLED:
            raise ReconcilerError(_("{file}: {address}: the proposed edit did not disable {field}").format(
                file=file, address=(addresses or {}).get(index, unit.mailboxes[index].address),
                field=f"mailboxes[{index}]"))


# -- the branch -----------------------------------------------------------------------------------------


def reasons_by_mailbox(review: Review) -> dict[str, tuple[Mailbox, str]]:
    """Declared mailboxes the proposal disables, with the reasons of all their auto findings."""
    declared = {m.address.lower(): m for m in review.desired.mailboxes()}
    chosen: dict[str, tuple[Mailbox, list[str]]] = {}
    for f in review.findings:
        mailbox = declared.get(f.address.lower())
        if f.auto and mailbox is not None and mailbox.source is not None and mailbox.status is Status.ACTIVE:
            chosen.setdefault(mailbox.address.lower(), (mailbox, []))[1].append(f"{f.finding.value}: {f.reason}")
    return {key: (m, "; ".join(reasons)) for key, (m, reasons) in chosen.items()}


def commit_message(review: Review, disabled: list[Disabled], needs_person: list[Finding], record: str) -> str:
    subject = (f"Review (rà soát) of {review.as_of.isoformat()}: disable {len(disabled)} mailbox(es), "
               f"{len(needs_person)} finding(s) for a person")
    lines = [subject, ""]
    if disabled:
        lines.append("Set to status: disabled (with a review note):")
        lines += [f"- {d.address} ({d.unit}): {d.reason}" for d in disabled]
        lines.append("")
    if needs_person:
        lines.append("Not changed, for a person to decide:")
        lines += [f"- {f.address} ({f.unit or 'no unit'}): {f.finding.value}: {f.reason} -> {f.proposal.value}"
                  for f in needs_person]
        lines.append("")
    lines.append(f"Evidence and criteria: {record}")
    return "\n".join(lines) + "\n"


def _in_repo(repo: GitRepo, path: Path) -> Path:
    try:
        return path.resolve().relative_to(repo.root.resolve())
    except ValueError:
        raise ReconcilerError(_("{path} is outside the git repository {root}").format(path=path,
                                                                                    root=repo.root)) from None


def _refuse_branch(repo: GitRepo, branch: str) -> None:
    try:
        repo.repo.git.check_ref_format("--branch", branch)
    except git.GitCommandError:
        raise ReconcilerError(_("--propose: '{branch}' is not a valid branch name").format(branch=branch)) from None
    if branch in {h.name for h in repo.repo.heads}:
        raise ReconcilerError(_("--propose: branch '{branch}' already exists; the proposal goes on a new branch "
                                "(delete the old one or choose another name)").format(branch=branch))


def propose(settings: Settings, review: Review, branch: str) -> ProposalResult:
    """Commit the review's disables and its record on the new branch ``branch``, from HEAD."""
    repo = GitRepo(settings.root)
    _refuse_branch(repo, branch)
    mailboxes_dir = _in_repo(repo, settings.mailboxes_path)
    dirty = repo.dirty_paths([str(mailboxes_dir)])
    if dirty:
        raise ReconcilerError(_("--propose: {file} has uncommitted changes; the proposal starts from the last "
                                "commit, so commit or stash them first").format(file=dirty[0]))
    head = repo.head()
    chosen = reasons_by_mailbox(review)
    by_file: dict[str, dict[int, str]] = {}
    named: dict[str, dict[int, str]] = {}
    disabled: list[Disabled] = []
    for mailbox, reason in chosen.values():
        assert mailbox.source is not None
        file = str(_in_repo(repo, settings.root / mailbox.source.file))
        by_file.setdefault(file, {})[mailbox.source.index] = reason
        named.setdefault(file, {})[mailbox.source.index] = mailbox.address
        disabled.append(Disabled(mailbox.address, mailbox.unit, file, reason))
    needs_person = [f for f in review.findings if not f.auto]
    record = str(_in_repo(repo, settings.root / record_path(review.as_of)))
    message = commit_message(review, disabled, needs_person, record)
    body = render.markdown(review, branch=branch)
    with tempfile.TemporaryDirectory(prefix="reconciler-review-") as tmp:
        worktree = Path(tmp) / "proposal"
        repo.repo.git.worktree("add", "--quiet", "-b", branch, str(worktree), head.hexsha)
        try:
            _write_proposal(worktree, by_file, record, body, message, review.as_of, named)
            sha = git.Repo(worktree).head.commit.hexsha
        except BaseException:
            repo.repo.git.worktree("remove", "--force", str(worktree))
            repo.repo.git.branch("-D", branch)
            raise
        repo.repo.git.worktree("remove", "--force", str(worktree))
    return ProposalResult(branch, sha, disabled, needs_person, record, message)


def _write_proposal(worktree: Path, by_file: dict[str, dict[int, str]], record: str, body: str, message: str,
                    on: date, named: dict[str, dict[int, str]] | None = None) -> None:
    """``by_file``: file -> mailbox index -> reason; ``named``: file -> mailbox index -> address."""
    for file, edits in by_file.items():
        path = worktree / file
        raw = path.read_bytes()
        try:
            text = yamlsource.decode(raw, file)
        except InputError as err:
            raise ReconcilerError(str(err.problems[0])) from None
        text = text.removeprefix(BOM)
        addresses = (named or {}).get(file)
        edited = disable_in_text(text, edits, on, file, addresses)
        _checked(edited, file, sorted(edits), addresses)
        path.write_bytes(((BOM if raw.startswith(BOM.encode()) else "") + edited).encode("utf-8"))
    record_file = worktree / record
    record_file.parent.mkdir(parents=True, exist_ok=True)
    record_file.write_text(body, encoding="utf-8")
    proposal = git.Repo(worktree)
    proposal.git.add("--", *by_file, record)
    try:
        proposal.git.commit("-m", message)
    except git.GitCommandError as err:
        reason = (err.stderr or str(err)).strip().splitlines()
        raise ReconcilerError(_("--propose: git commit failed: {reason}").format(
            reason=reason[-1] if reason else err)) from None
