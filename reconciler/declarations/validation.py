"""validate: read every unit file, check the schema and the province's rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from reconciler.declarations import desired as desired_files
from reconciler.declarations import policy
from reconciler.model import Desired
from reconciler.problems import Problem
from reconciler.settings import Settings


@dataclass(frozen=True, slots=True)
class Validation:
    desired: Desired
    problems: list[Problem]
    files: int

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)

    def __len__(self) -> int:
        return len(self.problems)


def policy_context(settings: Settings, today: date) -> policy.PolicyContext:
    return policy.PolicyContext(settings.domains, settings.policy.public_mail_domains, today)


def validate(settings: Settings, today: date,
             extra_checks: Callable[[Desired], list[Problem]] | None = None, *,
             locate_warnings: bool = True) -> Validation:
    """Schema and policy problems of every unit file; ``extra_checks`` add rules that need more context
    (the lifecycle since a base revision). Locating a problem parses its file again: a caller that
    shows only errors (plan, apply) passes ``locate_warnings=False`` and gets warnings without a line."""
    with desired_files.cyclic_gc_paused():  # through the policy checks too: see there
        loaded = desired_files.load_directory(settings.mailboxes_path, settings.root)
        found = policy.check(loaded.desired, policy_context(settings, today))
        if extra_checks is not None:
            found += extra_checks(loaded.desired)
    if not locate_warnings:  # a thousand expired mailboxes would mean parsing every file again
        unlocated = [p for p in found if not p.is_error]
        found = [p for p in found if p.is_error]
    problems = loaded.problems + desired_files.locate(found, loaded.documents)
    if not locate_warnings:
        problems += unlocated
    problems.sort(key=lambda p: (p.file, p.line, p.column))
    return Validation(loaded.desired, problems, len(desired_files.unit_files(settings.mailboxes_path)))
