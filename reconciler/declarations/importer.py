"""import: write unit files from live accounts, so an existing directory can be adopted (pure)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable

from reconciler.model import Account, Status

UNASSIGNED_UNIT = "chua-phan-loai"  # "not yet classified"
_UNIT_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def _scalar(value: object) -> str:
    """A YAML scalar: plain when safe, JSON-quoted (valid YAML) otherwise."""
    text = "" if value is None else str(value)
    if text and re.fullmatch(r"[\w.@/&()À-ỹ -]+", text) and text[0] not in " &@-" and text[-1] != " " \
            and text.lower() not in ("yes", "no", "on", "off", "true", "false", "null", "~"):
        return text
    return json.dumps(text, ensure_ascii=False)


def unit_id_for(account: Account) -> str:
    unit = str(account.fields.get("unit") or "")
    return unit if _UNIT_ID.match(unit) else UNASSIGNED_UNIT


def unit_files(accounts: Iterable[Account]) -> dict[str, str]:
    """unit id -> the text of its unit file. Unknown values stay empty so that validate names them."""
    by_unit: dict[str, list[Account]] = defaultdict(list)
    for account in accounts:
        by_unit[unit_id_for(account)].append(account)
    files: dict[str, str] = {}
    for unit_id, members in sorted(by_unit.items()):
        lines = [
            "# yaml-language-server: $schema=../schemas/unit.schema.json",
            "# Imported from the live directory: check every value, fill in what is empty, add tickets.",
            "unit:",
            f"  id: {unit_id}",
            f"  name: {_scalar(unit_id)}  # TODO: the unit's official name",
            "mailboxes:",
        ]
        for account in sorted(members, key=lambda a: a.address):
            fields = account.fields
            name = account.name
            owner = fields.get("owner")
            kind = fields.get("kind") if fields.get("kind") in ("personal", "functional") else ""
            lines += [
                f"  - address: {account.address}",
                f"    name: {_scalar(name)}",
                f"    kind: {_scalar(kind)}" + ("" if kind else "  # TODO: personal or functional"),
                f"    owner: {{id: {_scalar(owner)}, name: {_scalar(name)}}}"
                + ("" if owner else "  # TODO: the owner's staff id"),
                f"    status: {Status.ACTIVE.value if account.disabled_since is None else Status.DISABLED.value}",
            ]
            if fields.get("aliases"):
                lines.append(f"    aliases: [{', '.join(str(a) for a in fields['aliases'])}]")  # type: ignore[union-attr]
            if fields.get("forward_to"):
                lines.append(f"    forward_to: [{', '.join(str(a) for a in fields['forward_to'])}]")  # type: ignore[union-attr]
        files[unit_id] = "\n".join(lines) + "\n"
    return files
