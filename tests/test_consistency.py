"""One of each (issue #8 item 4): one clock decides every day and displayed time, one escape writes every
value into Markdown, and every CSV the tool writes starts with the UTF-8 byte-order mark."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from reconciler.audit import livereport, summary
from reconciler.clock import Clock
from reconciler.model import Account, Desired, Kind, LiveView, Mailbox, Owner, SourceRef, Status, Unit
from reconciler.review import findings as rules
from reconciler.review.findings import Criteria

D = "quangngai.gov.vn"
PARIS = ZoneInfo("Europe/Paris")


def box(local: str) -> Mailbox:
    return Mailbox(f"{local}@{D}", f"Người {local}", Kind.PERSONAL, Owner("QN-1", "Chủ"), Status.ACTIVE, "so-tttt",
                   (), source=SourceRef("mailboxes/so-tttt.yaml", 0))


def desired(*boxes: Mailbox) -> Desired:
    return Desired((Unit("so-tttt", "Sở Thông tin và Truyền thông", "mailboxes/so-tttt.yaml", boxes),))


def live_report(name: str, *, clock: Clock | None = None) -> livereport.LiveReport:
    account = Account(f"x@{D}", {"unit": "so-tttt", "aliases": [], "forward_to": []},
                      datetime(2026, 3, 1, 0, 0, tzinfo=UTC), None, f"uid=x,{D}", name)
    return livereport.build(LiveView({f"x@{D}": account}), (), {"so-tttt": "Sở TTTT"}, domains=(D,),
                            public_mail_domains=(), now=datetime(2026, 11, 28, 23, 30, tzinfo=UTC),
                            directory="ldif:x", clock=clock)


def test_live_report_markdown_lets_no_html_from_the_directory_through():
    text = livereport.markdown(live_report("<img src=x> | Người"))
    assert "<img" not in text and "&lt;img src=x&gt; \\| Người" in text


def test_live_report_times_follow_the_clock_it_is_given():
    report = live_report("A", clock=Clock("Europe/Paris"))
    assert "disabled since 01/03/2026 01:00 +01:00" in livereport.text(report)
    data = livereport.to_json(report)
    assert data["generated_at"] == "2026-11-29T00:30:00+01:00"
    assert data["units"][0]["disabled"][0]["disabled_since"] == "2026-03-01T01:00:00+01:00"
    assert "+07:00" not in livereport.text(report) and "+07:00" in livereport.text(live_report("A"))


def test_review_evidence_is_iso_8601_with_the_configured_offset():
    login = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    live = {f"a@{D}": Account(f"a@{D}", {"unit": "so-tttt"}, None, login, "uid=a", "A")}
    (found,) = rules.login_findings({f"a@{D}": box("a")}, live, Criteria(date(2026, 12, 1), PARIS))
    assert found.evidence["last_login"] == "2026-06-01T12:00:00+02:00"
    assert "01/06/2026 12:00 +02:00" in found.reason


def test_summary_measures_use_up_to_the_end_of_the_day_in_the_configured_zone():
    """A login 20:00 UTC on the window's first day is 03:00 the next day in Vietnam: inside the window
    that ends 23:59:59 Vietnam time; a window ending at midnight UTC would leave it out."""
    at = date(2026, 11, 28)
    login = datetime.combine(at - timedelta(days=summary.USE_WINDOW_DAYS), datetime.min.time(), UTC).replace(hour=20)
    logins = {f"a@{D}": Account(f"a@{D}", {}, None, login)}
    _units, total = summary.figures(desired(box("a")), (), at=at, roster=None, last_logins=logins,
                                    clock=Clock("Asia/Ho_Chi_Minh"))
    assert total.used == 1
    _units, total = summary.figures(desired(box("a")), (), at=at, roster=None, last_logins=logins,
                                    clock=Clock("UTC"))
    assert total.used == 0


def test_every_csv_format_starts_with_the_byte_order_mark():
    """Issue #12 item 3: all CSV output gets the BOM, so Excel shows Vietnamese correctly."""
    from reconciler.audit import report, summary_formats
    from reconciler.audit.gitrepo import CommitInfo
    from reconciler.review import render
    from reconciler.review.run import Review

    state = desired(box("a"))
    moment = datetime(2026, 11, 28, tzinfo=UTC)
    units, total = summary.figures(state, (), at=date(2026, 11, 28), roster=None, last_logins=None)
    documents = {
        "report": report.csv_text(report.Report(CommitInfo("0" * 40, moment, "A", "a@x", "s", None),
                                                date(2026, 11, 28), None, {"so-tttt": "Sở"}, state, [])),
        "report --summary": summary_formats.csv_text(summary.Summary(date(2026, 11, 28), "0" * 40,
                                                                     date(2026, 10, 29), units, total)),
        "report --live": livereport.csv_text(live_report("Người")),
        "review": render.csv_text(Review(Criteria(date(2026, 12, 1), PARIS), [], "ldif:x", desired=state)),
    }
    for name, document in documents.items():
        assert document.startswith("\ufeff") and not document.startswith("\ufeff\ufeff"), name
        assert document[1:].split(",", 1)[0].strip(), name  # the header follows at once


def test_planned_sections_split_the_plan_by_origin_for_any_renderer():
    """Thin CLI (issue #8 item 1): the split into this pull request / drift / due now or later is the API's."""
    from reconciler.model import Action, Change, Deferred, Plan
    from reconciler.plan.result import Planned

    def change(local: str, origin: str) -> Change:
        return Change(Action.UPDATE, f"{local}@{D}", "so-tttt", {}, {}, origin)

    plan = Plan((change("a", "change"), change("b", "drift"), change("c", "scheduled")), 0, (),
                (Deferred(f"d@{D}", "so-tttt", date(2027, 1, 1), "change"),
                 Deferred(f"e@{D}", "so-tttt", date(2027, 1, 2), "scheduled")))
    planned = Planned(plan, None, "ldif:x", "openldap", "dc=x", base="main")  # type: ignore[arg-type]
    sections = planned.sections()
    assert sections is not None
    assert {k: [c.address for c in v] for k, v in sections.changes.items()} == \
        {"change": [f"a@{D}"], "drift": [f"b@{D}"], "scheduled": [f"c@{D}"]}
    assert list(sections.changes) == ["change", "drift", "scheduled"]  # the order a reader sees them in
    assert {k: [d.address for d in v] for k, v in sections.waiting.items()} == \
        {"change": [f"d@{D}"], "scheduled": [f"e@{D}"]}
    assert [c.address for c in sections.drift] == [f"b@{D}"]
    quiet = Planned(Plan((change("a", "change"),), 0, ()), None, "ldif:x", "openldap", "dc=x",  # type: ignore[arg-type]
                    base="main").sections()
    assert quiet is not None and list(quiet.changes) == ["change", "drift"]  # nothing scheduled: no section
    assert Planned(plan, None, "ldif:x", "openldap", "dc=x").sections() is None  # type: ignore[arg-type]


def test_history_json_document_is_the_audit_modules():
    from reconciler.audit import history

    assert history.to_json(f"a@{D}", [], asked=f" A@{D}") == {
        "format_version": 1, "address": f"a@{D}", "alias": None, "apply_records_fetched": True, "history": []}
    assert history.to_json(f"a@{D}", [], asked=f"an@{D}")["alias"] == f"an@{D}"
    assert history.alias_asked(f"an@{D}", f"a@{D}") == f"an@{D}" and history.alias_asked(f"a@{D}", f"a@{D}") is None


def test_live_report_text_keeps_each_value_on_its_line_and_starts_no_ci_command():
    """A name in the live directory may hold a line break: printed, it must not start a line of its own
    (in a CI log, `::add-mask::` or `::error::` at a line's start is a workflow command)."""
    text = livereport.text(live_report("Người\n::add-mask::secret"))
    assert not any(line.startswith("::") for line in text.splitlines())
    assert "(Người\\n::add-mask::secret)" in text  # the break shown as \\n, inside the line
