"""Problems found in user input, reported as one line each: ``file:line:column: field: reason``."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    message: str
    path: Path = ()
    line: int = 0
    column: int = 0
    #: which rule found it: "yaml", "schema", or a policy check's name
    rule: str = "input"

    @property
    def field(self) -> str:
        return field_path(self.path)

    def located(self, line: int, column: int) -> Problem:
        return Problem(self.file, self.message, self.path, line, column, self.rule)

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column}"
        field = self.field
        text = f"{where}: {field}: {self.message}" if field else f"{where}: {self.message}"
        return one_line(text)  # a file name or a quoted value never breaks the line nor starts a CI command

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "rule": self.rule,
            "message": self.message,
        }


class InputError(Exception):
    """Bad input that stops a command: carries the problems to print, one per line."""

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = problems if isinstance(problems, list) else [problems]
        super().__init__("\n".join(str(p) for p in self.problems))


class ReconcilerError(Exception):
    """A refusal or failure of a command, printed as one line (never a traceback)."""
