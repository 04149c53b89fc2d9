"""Terminal output: colour and a progress bar on a terminal, plain lines everywhere else."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from reconciler.i18n import _
from reconciler.textfmt import one_line, safe_lines

#: below this many steps a progress bar is more noise than help
PROGRESS_MIN_STEPS = 20


class Terminal:
    def __init__(self) -> None:
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        return sys.stdin.isatty() and self.out.is_terminal

    def lines(self, lines: Iterable[str]) -> None:
        """Print rich-markup lines: styled on a terminal, plain text in one write elsewhere (CI logs,
        pipes), where rich's per-line rendering would cost seconds on a large plan."""
        lines = safe_lines(lines)
        if self.out.is_terminal:
            for line in lines:
                self.out.print(line)
            return
        self.out.file.write("".join(Text.from_markup(line).plain + "\n" for line in lines))
        self.out.file.flush()

    def note(self, message: str) -> None:
        self.out.print(one_line(message), markup=False)

    def warning(self, message: str) -> None:
        self.err.print(Text.assemble((_("warning:"), "yellow"), " ", message))

    def error(self, message: str) -> None:
        # The message may carry server or git text: never read it as markup.
        self.err.print(Text.assemble((_("error:"), "red"), " ", one_line(message)))

    @contextmanager
    def progress(self, total: int, label: str) -> Iterator[Callable[[], None]]:
        if not self.out.is_terminal or total < PROGRESS_MIN_STEPS:
            yield lambda: None
            return
        columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=self.out, transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda: bar.advance(task)
