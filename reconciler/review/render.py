"""The review for people (text, Markdown: the pull request body and the review record) and for
machines (JSON, CSV)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable

from reconciler.i18n import N_, _
from reconciler.review.findings import Finding, FindingKind, day
from reconciler.review.run import Review
from reconciler.textfmt import csv_document, md, md_code

TITLES = {
    FindingKind.IDLE: N_("idle"),
    FindingKind.NEVER_USED: N_("never used"),
    FindingKind.EXPIRED: N_("expired"),
    FindingKind.EXPIRING: N_("expiring"),
    FindingKind.DISABLED_PAST_GRACE: N_("disabled past the grace period"),
    FindingKind.OWNER_NOT_ON_ROSTER: N_("owner not on the roster"),
    FindingKind.OWNER_LEFT: N_("owner left"),
    FindingKind.OWNER_MOVED_UNIT: N_("owner moved unit"),
    FindingKind.SOCIAL_SIGNUP: N_("social network sign-up"),
    FindingKind.PUBLIC_FORWARD: N_("mail to a public provider"),
}
#: the finding and proposal codes as the text and Markdown show them (English: the code itself, as JSON and
#: CSV keep it; a translation may say it in words)
_CODE_MESSAGES = (N_("idle"), N_("never_used"), N_("expired"), N_("expiring"), N_("disabled_past_grace"),
                  N_("owner_not_on_roster"), N_("owner_left"), N_("owner_moved_unit"), N_("social_signup"),
                  N_("public_forward"), N_("disable"), N_("remove"), N_("ask_unit"), N_("reassign_owner"),
                  N_("move_unit"), N_("remove_forward"), N_("adopt"))
CSV_COLUMNS = ("unit", "address", "name", "finding", "proposal", "summary", "evidence")


def _unit_names(review: Review) -> dict[str, str]:
    return {u.id: u.name for u in review.desired.units}


def unit_label(unit: str, names: dict[str, str], escape: Callable[[str], str] = str) -> str:
    """The unit as people know it: ``Sở Y tế (so-y-te)``; the id alone when no unit file names it. ``escape``
    writes the name and the id (both other people's text) for the output."""
    name = names.get(unit)
    return f"{escape(name)} ({escape(unit)})" if name else escape(unit)


def counts_line(review: Review) -> str:
    if not review.findings:
        return _("No findings.")
    counts = Counter(f.finding for f in review.findings)
    parts = ", ".join(f"{counts[k]} {_(TITLES[k])}" for k in FindingKind if counts[k])
    return _("{count} finding(s): {parts}.").format(count=len(review.findings), parts=parts)


def header_lines(review: Review) -> list[str]:
    c = review.criteria
    sources = [_("directory {directory}").format(directory=review.directory)]
    if review.roster:
        sources.append(_("staff roster {roster}").format(roster=review.roster))
    if review.maillogs:
        sources.append(_("mail logs {files}").format(files=", ".join(review.maillogs)))
    return [_("Review (rà soát) as of {date}: idle after {idle} days without a login, expiring within {expiring} "
              "days, removal grace period {grace} days.").format(date=day(c.as_of), idle=c.idle_days,
                                                                 expiring=c.expiring_days, grace=c.grace_days),
            _("Evidence: {sources}.").format(sources="; ".join(sources))]


def text_lines(review: Review) -> list[str]:
    names = _unit_names(review)
    lines = [*header_lines(review), counts_line(review)]
    for f in review.findings:
        lines.append(f"[{_(f.finding.value)}] {f.described(names.get(f.unit))} -> {_(f.proposal.value)}")
        lines += [f"    {line}" for line in f.evidence.get("log_lines", ())]  # type: ignore[attr-defined]
    return lines


def _table(findings: list[Finding], names: dict[str, str]) -> list[str]:
    lines = ["| " + " | ".join([_("Address"), _("Name"), _("Unit"), _("Finding"), _("Proposal"), _("Evidence")])
             + " |", "| --- | --- | --- | --- | --- | --- |"]
    # Names, roster units and log senders are other people's text: no table breaks, no HTML in a PR body.
    lines += [f"| {md_code(f.address)} | {md(f.name)} | {unit_label(f.unit, names, md)} | {_(TITLES[f.finding])} | "
              f"{_(f.proposal.value)} | {md(f.reason)} |" for f in findings]
    return lines


def markdown(review: Review, *, branch: str | None = None) -> str:
    """The review as Markdown: the body of the proposal's pull request and the record kept in reviews/."""
    names = _unit_names(review)
    lines = ["# " + _("Review (rà soát) of {date}").format(date=day(review.as_of)), "", *header_lines(review), "",
             counts_line(review)]
    auto = [f for f in review.findings if f.auto]
    manual = [f for f in review.findings if not f.auto]
    if auto:
        title = (_("Disabled in this proposal on branch `{branch}` ({count})") if branch
                 else _("Disabled in this proposal ({count})")).format(branch=branch, count=len(auto))
        lines += ["", "## " + title, "",
                  _("Each of these is set to `status: disabled` with a `review` note in its unit file. To keep one, "
                    "take its change out of the pull request and say why."), "", *_table(auto, names)]
    if manual:
        lines += ["", "## " + _("Needs a person to decide ({count})").format(count=len(manual)), "",
                  _("Not changed by the proposal: the unit, the owner or the IT centre decides."), "",
                  *_table(manual, names)]
    logs = [(f, line) for f in review.findings for line in f.evidence.get("log_lines", ())]  # type: ignore[attr-defined]
    if logs:
        longest = max((len(run) for _f, line in logs for run in re.findall(r"`+", line)), default=2)
        fence = "`" * max(3, longest + 1)  # no backtick run in a log line can close it early
        lines += ["", "### " + _("Mail log lines"), "", fence + "text", *(f"{line}" for _f, line in logs), fence]
    return "\n".join(lines) + "\n"


def json_text(review: Review) -> str:
    return json.dumps(review.to_json(), ensure_ascii=False, indent=2)


def csv_text(review: Review) -> str:
    return csv_document([CSV_COLUMNS, *([f.unit, f.address, f.name, f.finding.value, f.proposal.value, f.summary,
                                         json.dumps(f.evidence, ensure_ascii=False, sort_keys=True)]
                                        for f in review.findings)])
