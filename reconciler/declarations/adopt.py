"""`reconciler import`: write the unit files that adopt live accounts no file declares yet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from reconciler.declarations import importer
from reconciler.i18n import _
from reconciler.model import Desired, LiveView
from reconciler.problems import ReconcilerError
from reconciler.settings import Settings


@dataclass(frozen=True, slots=True)
class Imported:
    """What import wrote into ``target``, what it left out and why, and the live entries it could not adopt
    (unreadable, not mailboxes)."""

    result: importer.Imported
    view: LiveView
    target: Path

    @property
    def accounts(self) -> int:
        return self.result.accounts

    @property
    def files(self) -> dict[Path, str]:
        return {self.target / f"{unit}.yaml": text for unit, text in self.result.files.items()}


def unit_names(desired: Desired) -> dict[str, str]:
    """unit id -> the name `ou` carries in the directory."""
    return {unit.id: unit.name for unit in desired.units}


def unit_ids(desired: Desired) -> dict[str, str]:
    """`ou` value -> unit id (the first unit of a name, should two share one)."""
    ids: dict[str, str] = {}
    for unit in desired.units:
        ids.setdefault(unit.name, unit.id)
    return ids


def write_unit_files(settings: Settings, desired: Desired, view: LiveView, target: Path) -> Imported:
    """Write the accounts of ``view`` that ``desired`` does not declare into unit files under ``target``,
    appending to an existing unit file where one is there (never overwriting what it holds)."""
    declared = {m.address.lower() for m in desired.mailboxes()}
    accounts = [a for key, a in sorted(view.accounts.items()) if key not in declared]

    def existing(unit: str) -> str | None:
        path = target / f"{unit}.yaml"
        try:
            return path.read_text(encoding="utf-8") if path.exists() else None
        except (OSError, UnicodeDecodeError) as err:
            raise ReconcilerError(_("{path}: cannot read it to add imported mailboxes: {error}").format(
                path=path, error=err)) from None

    try:
        built = importer.build(accounts, domains=settings.domains,
                               public_mail_domains=settings.policy.public_mail_domains,
                               unit_ids=unit_ids(desired), existing=existing)
    except yaml.YAMLError:
        raise ReconcilerError(_("a unit file under the target folder is not valid YAML: run `reconciler validate` "
                                "and fix it before importing")) from None
    if built.refused:
        path = target / f"{built.refused[0]}.yaml"
        raise ReconcilerError(_("{path}: cannot add imported mailboxes safely ('mailboxes' is not its last "
                                "section or is written in flow style): import into an empty --out-dir and merge "
                                "by hand").format(path=path))
    try:
        target.mkdir(parents=True, exist_ok=True)
        for unit, text in built.files.items():
            (target / f"{unit}.yaml").write_text(text, encoding="utf-8")
    except OSError as err:
        raise ReconcilerError(_("{path}: cannot write: {reason}").format(path=err.filename or target,
                                                                         reason=err.strerror)) from None
    return Imported(built, view, target)
