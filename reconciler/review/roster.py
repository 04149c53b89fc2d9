"""The staff roster: the HR export as CSV, read into plain values.

Columns ``id,name,unit`` and an optional ``left_on``, or the Vietnamese headers ``mã,họ tên,đơn vị,ngày
nghỉ`` (any case, any Unicode normal form). A UTF-8 byte-order mark is fine (spreadsheets write one).
Dates are ``YYYY-MM-DD`` or ``dd/mm/yyyy``. Every bad row is one line ``roster.csv:12: field: reason``.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from reconciler.i18n import _
from reconciler.problems import InputError, Problem

#: header (NFC, lowercase) -> field
HEADERS = {
    "id": "id", "name": "name", "unit": "unit", "left_on": "left_on",
    "mã": "id", "họ tên": "name", "đơn vị": "unit", "ngày nghỉ": "left_on",
}
REQUIRED = ("id", "name", "unit")


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    unit: str
    left_on: date | None
    #: where the row is: ``roster.csv:12``
    source: str


@dataclass(frozen=True, slots=True)
class Roster:
    file: str
    people: dict[str, Person]

    def get(self, owner_id: str) -> Person | None:
        return self.people.get(owner_id.strip().casefold())


def _header(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).strip().casefold().split())


def parse_date(text: str) -> date:
    value = text.strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise ValueError(value)


def parse(text: str, file: str) -> Roster:
    """A roster from the CSV text (pure); raises InputError with one located line per bad row."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    problems: list[Problem] = []
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(Problem(file, _("the roster is empty; expected a header row id,name,unit[,left_on]"),
                                 rule="roster")) from None
    except csv.Error as err:
        raise InputError(Problem(f"{file}:1", _("not CSV: {error}").format(error=err), rule="roster")) from None
    columns: dict[str, int] = {}
    for index, raw in enumerate(header):
        field = HEADERS.get(_header(raw))
        if field is not None and field not in columns:
            columns[field] = index
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        raise InputError(Problem(f"{file}:1", _("missing column(s) {columns}; the header must name "
                                               "id,name,unit[,left_on] (or mã,họ tên,đơn vị,ngày nghỉ), found: "
                                               "{found}").format(columns=", ".join(missing), found=",".join(header)),
                                 rule="roster"))
    people: dict[str, Person] = {}
    try:
        for row in reader:
            where = f"{file}:{reader.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            values = {f: row[i].strip() if i < len(row) else "" for f, i in columns.items()}
            if len(row) > len(header):
                problems.append(Problem(where, _("{cells} cells where the header has {columns}").format(
                    cells=len(row), columns=len(header)),
                                        rule="roster"))
                continue
            empty = [f for f in REQUIRED if not values[f]]
            if empty:
                problems.extend(Problem(where, _("must not be empty"), (f,), rule="roster") for f in empty)
                continue
            left_on = None
            if values.get("left_on"):
                try:
                    left_on = parse_date(values["left_on"])
                except ValueError:
                    problems.append(Problem(where, _("'{value}' is not a date; write YYYY-MM-DD or dd/mm/yyyy").format(
                        value=values["left_on"]), ("left_on",), rule="roster"))
                    continue
            key = values["id"].casefold()
            if key in people:
                problems.append(Problem(where, _("staff id {id} is also on {row}").format(id=values["id"],
                                                                                         row=people[key].source),
                                        ("id",), rule="roster"))
                continue
            people[key] = Person(values["id"], unicodedata.normalize("NFC", values["name"]),
                                 unicodedata.normalize("NFC", values["unit"]), left_on, where)
    except csv.Error as err:
        problems.append(Problem(f"{file}:{reader.line_num}", _("not CSV: {error}").format(error=err), rule="roster"))
    if problems:
        raise InputError(problems)
    return Roster(file, people)


def load(path: Path) -> Roster:
    file = str(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InputError(Problem(file, _("cannot read the roster: {reason}").format(reason=err.strerror),
                                 rule="io")) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise InputError(Problem(f"{file}:{line}", _("not UTF-8 text; save the roster as CSV UTF-8"),
                                 rule="roster")) from None
    return parse(text, file)
