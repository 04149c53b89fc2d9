"""The review for people (text, Markdown: the pull request body and the review record) and for
machines (JSON, CSV)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter

from reconciler.review.findings import Finding, FindingKind, day
from reconciler.review.run import Review

TITLES = {
    FindingKind.IDLE: "idle",
    FindingKind.NEVER_USED: "never used",
    FindingKind.EXPIRED: "expired",
    FindingKind.EXPIRING: "expiring",
    FindingKind.DISABLED_PAST_GRACE: "disabled past the grace period",
    FindingKind.OWNER_NOT_ON_ROSTER: "owner not on the roster",
    FindingKind.OWNER_LEFT: "owner left",
    FindingKind.OWNER_MOVED_UNIT: "owner moved unit",
    FindingKind.SOCIAL_SIGNUP: "social network sign-up",
    FindingKind.PUBLIC_FORWARD: "mail to a public provider",
}
CSV_COLUMNS = ("unit", "address", "name", "finding", "proposal", "summary", "evidence")


def counts_line(review: Review) -> str:
    if not review.findings:
        return "No findings."
    counts = Counter(f.finding for f in review.findings)
    parts = ", ".join(f"{counts[k]} {TITLES[k]}" for k in FindingKind if counts[k])
    return f"{len(review.findings)} finding(s): {parts}."


def header_lines(review: Review) -> list[str]:
    c = review.criteria
    sources = [f"directory {review.directory}"]
    if review.roster:
        sources.append(f"staff roster {review.roster}")
    if review.maillogs:
        sources.append("mail logs " + ", ".join(review.maillogs))
    return [f"Review (rà soát) as of {day(c.as_of)}: idle after {c.idle_days} days without a login, expiring "
            f"within {c.expiring_days} days, removal grace period {c.grace_days} days.",
            "Evidence: " + "; ".join(sources) + "."]


def text_lines(review: Review) -> list[str]:
    lines = [*header_lines(review), counts_line(review)]
    for f in review.findings:
        lines.append(f"[{f.finding.value}] {f.summary} -> {f.proposal.value}")
        lines += [f"    {line}" for line in f.evidence.get("log_lines", ())]  # type: ignore[attr-defined]
    return lines


def _cell(text: object) -> str:
    # Names, roster units and log senders are other people's text: no table breaks, no HTML in a PR body.
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", r"\|")
            .replace("\r", " ").replace("\n", " "))


def _table(findings: list[Finding]) -> list[str]:
    lines = ["| Address | Name | Unit | Finding | Proposal | Evidence |", "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| `{f.address}` | {_cell(f.name)} | {_cell(f.unit)} | {TITLES[f.finding]} | {f.proposal.value} | "
              f"{_cell(f.reason)} |" for f in findings]
    return lines


def markdown(review: Review, *, branch: str | None = None) -> str:
    """The review as Markdown: the body of the proposal's pull request and the record kept in reviews/."""
    lines = [f"# Review (rà soát) of {day(review.as_of)}", "", *header_lines(review), "", counts_line(review)]
    auto = [f for f in review.findings if f.auto]
    manual = [f for f in review.findings if not f.auto]
    if auto:
        where = f" on branch `{branch}`" if branch else ""
        lines += ["", f"## Disabled in this proposal{where} ({len(auto)})", "",
                  "Each of these is set to `status: disabled` with a `review` note in its unit file. To keep one, "
                  "take its change out of the pull request and say why.", "", *_table(auto)]
    if manual:
        lines += ["", f"## Needs a person to decide ({len(manual)})", "",
                  "Not changed by the proposal: the unit, the owner or the IT centre decides.", "", *_table(manual)]
    logs = [(f, line) for f in review.findings for line in f.evidence.get("log_lines", ())]  # type: ignore[attr-defined]
    if logs:
        longest = max((len(run) for _f, line in logs for run in re.findall(r"`+", line)), default=2)
        fence = "`" * max(3, longest + 1)  # no backtick run in a log line can close it early
        lines += ["", "### Mail log lines", "", fence + "text", *(f"{line}" for _f, line in logs), fence]
    return "\n".join(lines) + "\n"


def json_text(review: Review) -> str:
    return json.dumps(review.to_json(), ensure_ascii=False, indent=2)


def csv_text(review: Review) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in review.findings:
        writer.writerow([f.unit, f.address, f.name, f.finding.value, f.proposal.value, f.summary,
                         json.dumps(f.evidence, ensure_ascii=False, sort_keys=True)])
    return buffer.getvalue()
