"""Apply records: what one apply did, as one JSON line in a git note on the applied commit."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.model import Change


@dataclass(frozen=True, slots=True)
class ApplyRecord:
    commit: str | None
    applied_at: str
    actor: str
    run_url: str | None
    directory: str
    changes: list[dict[str, object]]

    def to_line(self) -> str:
        return json.dumps({
            "format_version": 1, "kind": "apply", "commit": self.commit, "applied_at": self.applied_at,
            "actor": self.actor, "run_url": self.run_url, "directory": self.directory, "changes": self.changes,
        }, ensure_ascii=False, sort_keys=True)

    @staticmethod
    def parse_note(text: str) -> list[ApplyRecord]:
        records = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and data.get("kind") == "apply":
                records.append(ApplyRecord(data.get("commit"), str(data.get("applied_at", "")),
                                           str(data.get("actor", "")), data.get("run_url"),
                                           str(data.get("directory", "")), list(data.get("changes", []))))
        return records

    def outcome_for(self, address: str) -> dict[str, object] | None:
        key = address.lower()
        return next((c for c in self.changes if str(c.get("address", "")).lower() == key), None)


def credentials_line(*, address: str, issued_by: str, issued_at: str, directory: str, run_url: str | None,
                     commit: str | None) -> str:
    """The trace of ``credentials issue``: who issued credentials for which address, and when. Never the
    password: only the directory and the person it was handed to know it."""
    return json.dumps({"format_version": 1, "kind": "credentials", "address": address, "issued_by": issued_by,
                       "issued_at": issued_at, "directory": directory, "run_url": run_url, "commit": commit},
                      ensure_ascii=False, sort_keys=True)


def record_change(change: Change, error: str | None, *, verified: str | None = None, sent: bool = True,
                  unknown: bool = False) -> dict[str, object]:
    """One change's line in the record. ``outcome``: ok, failed, unknown (the answer was lost and the
    entry could not be read again) or not-sent (the apply stopped before it); ``verified: reread``
    when the outcome was established by reading the entry again after a lost answer; ``reason`` why
    the change was planned when the declaration alone does not say it (an expiry)."""
    outcome = "ok" if not error else "not-sent" if not sent else "unknown" if unknown else "failed"
    return {"action": change.action.value, "address": change.address, "unit": change.unit,
            "fields": change.changed_fields(), "outcome": outcome,
            **({"reason": change.reason} if change.reason else {}),
            **({"error": str(error)} if error else {}), **({"verified": verified} if verified else {})}


def run_url(env: Mapping[str, str]) -> str | None:
    parts = [env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    if all(parts):
        return f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}"
    return env.get("CI_JOB_URL") or None
