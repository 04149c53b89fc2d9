"""The plan as stable JSON (format_version 1) and its checksum.

The checksum covers what apply would do (every change, in order), not annotations such as
``origin`` or the unmanaged list, so a reviewed plan and a re-computed one match exactly when they
would make the same writes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from reconciler.i18n import _
from reconciler.model import Action, Change, Plan
from reconciler.plan import findings
from reconciler.problems import ReconcilerError

FORMAT_VERSION = 1


def change_json(change: Change) -> dict[str, object]:
    data: dict[str, object] = {
        "action": change.action.value,
        "address": change.address,
        "unit": change.unit,
        "before": change.before,
        "after": change.after,
    }
    if change.origin is not None:
        data["origin"] = change.origin
    if change.reason is not None:
        data["reason"] = change.reason
    return data


#: annotations that explain a change without altering what apply writes: not in the checksum
_ANNOTATIONS = ("origin", "reason")


def checksum(plan: Plan) -> str:
    payload = [
        {k: v for k, v in change_json(c).items() if k not in _ANNOTATIONS} for c in plan.changes
    ]
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def summary(plan: Plan) -> dict[str, int]:
    counts = {action.value: plan.count(action) for action in Action}
    return {
        "create": counts["create"],
        "update": counts["update"],
        "disable": counts["disable"],
        "enable": counts["enable"],
        "remove": counts["remove"],
        "unchanged": plan.unchanged,
        "unmanaged": len(plan.unmanaged),
        "deferred": len(plan.deferred),
        "violations": len(plan.violations),
        "unreadable": len(plan.unreadable),
        "not_mailboxes": len(plan.not_mailboxes),
    }


def to_json(plan: Plan, **extra: object) -> dict[str, object]:
    data: dict[str, object] = {
        "format_version": FORMAT_VERSION,
        "summary": summary(plan),
        "changes": [change_json(c) for c in plan.changes],
        "unmanaged": list(plan.unmanaged),
        "deferred": [
            {"address": d.address, "unit": d.unit, "eligible_on": d.eligible_on.isoformat(),
             **({"origin": d.origin} if d.origin else {})} for d in plan.deferred
        ],
        **findings.json_fields(plan),
        "reminders": [{"address": r.address, "message": r.message} for r in plan.reminders],
    }
    data.update(extra)
    data["checksum"] = checksum(plan)
    return data


def dumps(plan: Plan, **extra: object) -> str:
    return json.dumps(to_json(plan, **extra), ensure_ascii=False, indent=2)


def read_checksum(path: Path) -> str:
    """The checksum of a saved plan file, or one clear error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ReconcilerError(_("{path}: cannot read the saved plan: {reason}").format(path=path,
                                                                                  reason=err.strerror)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ReconcilerError(_("{path}: not a plan file (invalid JSON: {error})").format(path=path,
                                                                                      error=err)) from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION or "checksum" not in data:
        raise ReconcilerError(_("{path}: not a plan file of format_version {version}").format(path=path,
                                                                                         version=FORMAT_VERSION))
    return str(data["checksum"])
