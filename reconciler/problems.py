"""Problems found in user input, reported as one line each: ``file:line:column: field: reason``."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.i18n import N_, _
from reconciler.textfmt import one_line

Path = tuple[str | int, ...]


def field_path(path: Path) -> str:
    """``("mailboxes", 3, "owner", "id")`` -> ``mailboxes[3].owner.id``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


ERROR = "error"
#: where a message names the other place it refers to (filled in with file:line:column)
WHERE = "{where}"
WARNING = "warning"
#: how a problem line names its severity (the JSON keeps the English word)
_SEVERITY_WORDS = {ERROR: N_("error"), WARNING: N_("warning")}


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    message: str
    path: Path = ()
    line: int = 0
    column: int = 0
    #: which rule found it: "yaml", "schema", or a policy check's name
    rule: str = "input"
    #: "error" fails validation; "warning" is shown and does not
    severity: str = "error"
    #: the mailbox the problem is about (its address), named at the start of the message
    subject: str | None = None
    #: another place the message refers to as ``{where}``: (file, field path), given its line by ``located``
    ref: tuple[str, Path] | None = None

    @property
    def text(self) -> str:
        """The message, with ``{where}`` replaced by the place it refers to."""
        if self.ref is None:
            return self.message
        file, path = self.ref
        return self.message.replace(WHERE, f"{file} {field_path(path)}")

    def with_ref_at(self, line: int, column: int) -> Problem:
        """The message with its reference written as ``file:line:column``."""
        if self.ref is None:
            return self
        message = self.message.replace(WHERE, f"{self.ref[0]}:{line}:{column}")
        return Problem(self.file, message, self.path, self.line, self.column, self.rule, self.severity,
                       self.subject)

    def about(self, subject: str | None) -> Problem:
        return Problem(self.file, self.message, self.path, self.line, self.column, self.rule, self.severity,
                       subject, self.ref)

    @property
    def field(self) -> str:
        return field_path(self.path)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def located(self, line: int, column: int) -> Problem:
        return Problem(self.file, self.message, self.path, line, column, self.rule, self.severity, self.subject,
                       self.ref)

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column}"
        if self.severity != ERROR:
            where += f": {_(_SEVERITY_WORDS.get(self.severity, self.severity))}"
        if self.subject:
            where += f": {self.subject}"
        field = self.field
        text = f"{where}: {field}: {self.text}" if field else f"{where}: {self.text}"
        return one_line(text)  # a file name or a quoted value never breaks the line nor starts a CI command

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "rule": self.rule,
            "severity": self.severity,
            "mailbox": self.subject,
            "message": self.text,
        }


class InputError(Exception):
    """Bad input that stops a command: carries the problems to print, one per line."""

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = problems if isinstance(problems, list) else [problems]
        super().__init__("\n".join(str(p) for p in self.problems))


class ReconcilerError(Exception):
    """A refusal or failure of a command, printed as one line (never a traceback)."""
