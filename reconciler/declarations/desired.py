"""Unit files -> the desired state, with every problem located at file, line and column."""

from __future__ import annotations

import gc
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from reconciler.declarations import schema, yamlsource
from reconciler.declarations.yamlsource import Document
from reconciler.i18n import _
from reconciler.model import Desired, Kind, Mailbox, Owner, SourceRef, Status, Unit
from reconciler.problems import InputError, Problem

UNIT_FILE_SUFFIXES = (".yaml", ".yml")
#: value -> member, a dict lookup where calling the enum costs a microsecond per mailbox
_KINDS = {kind.value: kind for kind in Kind}
_STATUSES = {status.value: status for status in Status}


@dataclass(frozen=True, slots=True)
class Loaded:
    """The declarations as far as they could be read, the documents (for positions) and problems."""

    desired: Desired
    documents: dict[str, Document]
    problems: list[Problem]


def unit_from_data(data: dict, file: str) -> Unit:
    """Build a Unit from schema-valid data (pure)."""
    unit_id = data["unit"]["id"]
    mailboxes = tuple(
        Mailbox(
            address=m["address"],
            name=nfc(m["name"]),
            kind=_KINDS[m["kind"]],
            owner=_owner(m["owner"], m["name"]),
            status=_STATUSES[m["status"]],
            unit=unit_id,
            aliases=tuple(m.get("aliases", ())),
            forward_to=tuple(m.get("forward_to", ())),
            expires=_date(m.get("expires")),
            ticket=m.get("ticket"),
            legacy=m.get("legacy", False),
            source=SourceRef(file, index),
        )
        for index, m in enumerate(data["mailboxes"] or ())
    )
    return Unit(id=unit_id, name=nfc(data["unit"]["name"]), file=file, mailboxes=mailboxes,
                staff=data["unit"].get("staff"))


def nfc(text: str) -> str:
    """Names as one form of Unicode: Unikey's "tổ hợp" mode and macOS type decomposed letters, which
    look the same but compare different (a plan would show an invisible ``Lê → Lê`` update)."""
    # Already NFC (as typed on most keyboards): the same string object, so that names stay shared.
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


def _owner(data: dict, name: str) -> Owner:
    # A personal mailbox's owner is named like the mailbox: one string object serves both.
    owner_name = data["name"]
    return Owner(data["id"], nfc(name if owner_name == name else owner_name))


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def parse_unit(text: str, file: str) -> tuple[Unit | None, Document | None, list[Problem]]:
    """One unit file's text -> its Unit when it conforms to the schema, plus problems."""
    try:
        doc = yamlsource.parse(text, file)
    except InputError as err:
        return None, None, err.problems
    problems = schema.check(doc, schema.UNIT_SCHEMA)
    if problems:
        return None, doc, name_mailboxes(problems, doc.data)
    assert isinstance(doc.data, dict)
    # The Unit holds what is needed from here on; the Document only finds line numbers. Its plain
    # data (a dict per mailbox) would otherwise live through validation.
    return unit_from_data(doc.data, file), replace(doc, data=None), []


def unit_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    # Symbolic links are listed so that they are refused, not silently skipped.
    return sorted(p for p in directory.iterdir() if p.suffix in UNIT_FILE_SUFFIXES
                  and (p.is_symlink() or p.is_file()))


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector (reference counting still frees everything at once).

    Parsing a file builds a node tree of a hundred thousand objects that lives just long enough to
    be promoted to the oldest generation, so the collector keeps starting full collections, and each
    walks every mailbox read so far: on 100,000 mailboxes that was half of validate's time. Reading
    and checking make next to no reference cycles (the trees and values are trees), and what little
    cyclic garbage there is (an error's traceback) is collected when the collector resumes. Nests:
    only the outermost pause resumes it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_directory(directory: Path, display_root: Path | None = None) -> Loaded:
    """Read every unit file of ``directory``; problems are collected, never raised."""
    if not directory.is_dir():
        return Loaded(Desired(()), {}, [Problem(str(directory), _("mailboxes directory not found"), rule="io")])
    with cyclic_gc_paused():
        return _load_files(unit_files(directory), display_root)


def _load_files(paths: list[Path], display_root: Path | None) -> Loaded:
    units: list[Unit] = []
    documents: dict[str, Document] = {}
    problems: list[Problem] = []
    for path in paths:
        file = _display(path, display_root)
        if path.is_symlink():
            problems.append(Problem(file, _("unit file is a symbolic link: unit files must be plain files inside the "
                                    "repository (git stores the link, so history and audits would not see its "
                                    "mailboxes); replace the link with the file"), line=1, column=1, rule="io"))
            continue
        try:
            text = yamlsource.decode(path.read_bytes(), file)
        except InputError as err:
            problems.extend(err.problems)
            continue
        except OSError as err:
            problems.append(Problem(file, _("cannot read file: {reason}").format(reason=err.strerror), rule="io"))
            continue
        unit, doc, found = parse_unit(text, file)
        problems.extend(found)
        if doc is not None:
            # A valid file's text is read again only if a check of the whole state finds a problem in
            # it: a hundred thousand mailboxes' text is not kept through validation for that.
            documents[file] = replace(doc, text=path) if unit is not None else doc
        if unit is not None:
            units.append(unit)
    return Loaded(Desired(tuple(units)), documents, problems)


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def locate(problems: list[Problem], documents: dict[str, Document]) -> list[Problem]:
    """Give line and column to problems found by pure checks (which only know file and field)."""
    located = []
    for problem in problems:
        if problem.ref is not None and (ref_doc := documents.get(problem.ref[0])) is not None:
            problem = problem.with_ref_at(*ref_doc.locate(problem.ref[1]))
        doc = documents.get(problem.file)
        if doc is None or problem.line:
            located.append(problem)
        else:
            line, column = doc.locate(problem.path)
            located.append(problem.located(line, column))
    return located


def name_mailboxes(problems: list[Problem], data: object) -> list[Problem]:
    """Give each problem inside a mailbox entry that mailbox's address, so the line says whose it is."""
    entries = data.get("mailboxes") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return problems
    named = []
    for problem in problems:
        path = problem.path
        if problem.subject is None and len(path) >= 2 and path[0] == "mailboxes" and isinstance(path[1], int) \
                and path[1] < len(entries) and isinstance(entries[path[1]], dict):
            address = entries[path[1]].get("address")
            if isinstance(address, str) and address:
                problem = problem.about(address)
        named.append(problem)
    return named
def locate_in_files(problems: list[Problem], root: Path) -> list[Problem]:
    """Give line and column to problems found after loading (against the live directory): each named
    file is read again, only when there is a problem to place."""
    documents: dict[str, Document] = {}
    for file in {p.file for p in problems if not p.line}:
        try:
            documents[file] = yamlsource.load(root / file, file)
        except InputError:
            continue
    return locate(problems, documents)
