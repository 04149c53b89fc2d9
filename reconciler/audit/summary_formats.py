"""`report --summary` written out: HTML (one printable page), XLSX, CSV (with a BOM), Markdown, JSON.

Every format shows the same columns, labelled in the report's language.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Callable

from reconciler.audit.summary import USE_WINDOW_DAYS, Figures, Summary
from reconciler.i18n import N_, _, current, format_date
from reconciler.textfmt import csv_document

#: so that Excel reads a CSV file as UTF-8 (Vietnamese intact)

#: (key in Figures.to_json, label): the columns of every format, in order
COLUMNS: tuple[tuple[str, str], ...] = (
    ("unit_name", N_("Unit")),
    ("active", N_("Active")),
    ("disabled", N_("Disabled")),
    ("removed", N_("Removed")),
    ("personal", N_("Personal (active)")),
    ("functional", N_("Functional (active)")),
    ("created", N_("Created in the period")),
    ("removed_in_period", N_("Removed in the period")),
    ("staff", N_("Staff")),
    ("staff_with_mailbox", N_("Staff with an active mailbox")),
    ("staff_share", N_("Share of staff with a mailbox")),
    ("used", N_("Used in the last 30 days")),
    ("used_share", N_("Share used in the last 30 days")),
)
SHARES = {"staff_share", "used_share"}


def _percent(value: object) -> str:
    return f"{float(value) * 100:.1f}%".replace(".", "," if current() == "vi" else ".")  # type: ignore[arg-type]


def _display(key: str, value: object, *, total: bool = False) -> str:
    """A cell for people; what was not measured is a dash, and the total row says so in words."""
    if value is None:
        return _("not measured") if total and key in SHARES else "—"
    if key in SHARES:
        return _percent(value)
    return str(value)


def _rows(summary: Summary) -> list[Figures]:
    return [*summary.units, summary.total]


def title(summary: Summary) -> str:
    return _("Official mailboxes — summary as of {date}").format(date=format_date(summary.at))


def notes(summary: Summary) -> list[str]:
    """What the figures rest on, in sentences: the period, where staff counts come from, what was not measured."""
    lines = [_("Declarations at commit {commit}; the period runs from {since} to {at}.").format(
        commit=summary.commit[:10], since=format_date(summary.since), at=format_date(summary.at))]
    source = {"roster": _("Staff: from the roster given (people who had left by the report's date are not counted)."),
              "unit files": _("Staff: from the `staff` count of each unit file; units without one are left out of "
                              "the share.")}
    lines.append(source.get(summary.staff_source or "", _("Staff: not measured (give --roster FILE.csv or a `staff` "
                                                            "count in the unit files).")))
    lines.append(_("Use: an active mailbox counts as used when it logged in within {days} days of the report's date "
                   "(pwdLastSuccess in the directory).").format(days=USE_WINDOW_DAYS) if summary.usage_measured
                 else _("Use in the last {days} days: not measured (it needs the directory: --live).").format(
                     days=USE_WINDOW_DAYS))
    lines.append(_("Last review: {date}.").format(date=format_date(summary.last_review)) if summary.last_review
                 else _("Last review: none recorded (no reviews/*.md in git)."))
    return lines


# -- JSON, CSV, Markdown ------------------------------------------------------------------------------


def json_text(summary: Summary) -> str:
    return json.dumps(summary.to_json(), ensure_ascii=False, indent=2)


def csv_text(summary: Summary) -> str:
    rows: list[list[object]] = [[_("Unit ID"), *(_(label) for _key, label in COLUMNS)]]
    for row in _rows(summary):
        data = row.to_json()
        rows.append([row.unit or "", *(_display(key, data[key], total=row.unit is None) if key in SHARES else
                                       ("" if data[key] is None else data[key]) for key, _label in COLUMNS)])
    return csv_document(rows, lineterminator="\r\n")


def markdown(summary: Summary) -> str:
    lines = [f"# {title(summary)}", "", *(f"- {n}" for n in notes(summary)), "",
             "| " + " | ".join(_(label) for _key, label in COLUMNS) + " |",
             "| --- |" + " ---: |" * (len(COLUMNS) - 1)]
    for row in _rows(summary):
        data = row.to_json()
        cells = [_display(key, data[key], total=row.unit is None).replace("|", r"\|") for key, _label in COLUMNS]
        if row.unit is None:
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# -- XLSX ---------------------------------------------------------------------------------------------


def xlsx_bytes(summary: Summary) -> bytes:
    """A workbook: the per-unit table (numbers as numbers, shares as percentages), then the notes."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = _("Summary")[:31]
    sheet.append([title(summary)])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([])
    header = [_("Unit ID"), *(_(label) for _key, label in COLUMNS)]
    sheet.append(header)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in _rows(summary):
        data = row.to_json()
        sheet.append([row.unit or "", *(data[key] for key, _label in COLUMNS)])
        if row.unit is None:
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
    for index, (key, _label) in enumerate(COLUMNS, start=2):
        if key in SHARES:
            for (cell,) in sheet.iter_rows(min_row=4, min_col=index, max_col=index):
                cell.number_format = "0.0%"
    sheet.column_dimensions["A"].width = 22
    sheet.column_dimensions["B"].width = 40
    sheet.append([])
    for note in notes(summary):
        sheet.append([note])
    timeline = book.create_sheet(_("Active over time")[:31])
    timeline.append([_("Date"), _("Active")])
    for day, count in summary.timeline:
        timeline.append([day, count])
        timeline.cell(row=timeline.max_row, column=1).number_format = "DD/MM/YYYY"
    timeline.column_dimensions["A"].width = 14
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# -- HTML ---------------------------------------------------------------------------------------------

CSS = """
@page { size: A4; margin: 15mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt; color: #111;
       margin: 0 auto; max-width: 180mm; padding: 8mm 0; }
h1 { font-size: 15pt; margin: 0 0 3mm; }
h2 { font-size: 12pt; margin: 6mm 0 2mm; }
ul.notes { margin: 0 0 4mm; padding-left: 5mm; color: #333; }
table { border-collapse: collapse; width: 100%; font-size: 8pt; page-break-inside: auto; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; }
th, td { border: 0.3mm solid #999; padding: 1mm 1.2mm; vertical-align: top; }
th { background: #e8eef5; text-align: center; font-weight: bold; font-size: 7.5pt; }
th:first-child, td:first-child { width: 38mm; text-align: left; }
td.n { text-align: right; white-space: nowrap; }
tr.total td { font-weight: bold; background: #f3f3f3; }
figure { margin: 0; }
svg { width: 100%; height: auto; }
svg text { font-family: inherit; font-size: 9px; fill: #333; }
figcaption { font-size: 8pt; color: #555; }
@media print { body { padding: 0; max-width: none; } }
"""


def chart_svg(points: list[tuple[object, int]], label: Callable[[object], str], *, width: int = 640,
              height: int = 220) -> str:
    """An inline SVG line chart of (day, count); no script, no outside file."""
    left, right, top, bottom = 48, 16, 12, 36
    inner_w, inner_h = width - left - right, height - top - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{html.escape(_("Active mailboxes over time"))}">']
    if not points:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">'
                     f'{html.escape(_("No history yet."))}</text></svg>')
        return "".join(parts)
    top_value = max(count for _day, count in points)
    step = _nice(max(1, -(-top_value // 4)))  # four whole-number steps: counts of mailboxes are whole
    scale_max = 4 * step
    for index in range(5):  # grid lines and their values
        value = step * index
        y = top + inner_h - inner_h * value / scale_max
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">{value}</text>')
    count = len(points)
    # Time runs to scale: a quiet month takes the room of a month.
    ordinals = [_ordinal(day) for day, _n in points]
    first, span = ordinals[0], max(1, ordinals[-1] - ordinals[0])

    def x_of(index: int) -> float:
        return left + (inner_w * (ordinals[index] - first) / span if count > 1 else inner_w / 2)

    coordinates = [(x_of(i), top + inner_h - inner_h * n / scale_max) for i, (_day, n) in enumerate(points)]
    # A step line: the count holds until the next day that changed it.
    steps = [coordinates[0]]
    for (x, y), (_px, previous_y) in zip(coordinates[1:], coordinates, strict=False):
        steps += [(x, previous_y), (x, y)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in steps)
    parts.append(f'<polyline fill="none" stroke="#1f5fa8" stroke-width="2" points="{path}"/>')
    for x, y in coordinates:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#1f5fa8"/>')
    labelled: list[float] = []
    for index in [0, count - 1, *range(1, count - 1)]:  # the ends first, then whatever has room
        x = x_of(index)
        if any(abs(x - other) < 60 for other in labelled):
            continue
        labelled.append(x)
        parts.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle">'
                     f'{html.escape(label(points[index][0]))}</text>')
    last_x, last_y = coordinates[-1]
    parts.append(f'<text x="{last_x:.1f}" y="{max(last_y - 6, 10):.1f}" text-anchor="end" font-weight="bold">'
                 f'{points[-1][1]}</text>')
    parts.append(f'<line x1="{left}" y1="{top + inner_h}" x2="{width - right}" y2="{top + inner_h}" stroke="#666"/>')
    parts.append("</svg>")
    return "".join(parts)


def _ordinal(day: object) -> int:
    return day.toordinal() if hasattr(day, "toordinal") else 0  # type: ignore[union-attr]


def _nice(value: int) -> int:
    """A round number at or above ``value`` for the chart's top line."""
    magnitude = 10 ** max(0, len(str(value)) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        candidate = int(factor * magnitude)
        if candidate >= value:
            return candidate
    return value


def html_page(summary: Summary) -> str:
    """One self-contained page (inline CSS and SVG, no outside script, style or font), printable on A4."""
    esc = html.escape
    head = "".join(f"<th>{esc(_(label))}</th>" for _key, label in COLUMNS)
    body = []
    for row in _rows(summary):
        data = row.to_json()
        cells = []
        for key, _label in COLUMNS:
            text = esc(_display(key, data[key], total=row.unit is None))
            cells.append(f"<td>{text}</td>" if key == "unit_name" else f'<td class="n">{text}</td>')
        css = ' class="total"' if row.unit is None else f' data-unit="{esc(row.unit)}"'
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    chart = chart_svg(list(summary.timeline), lambda day: format_date(day)[:5] if len(summary.timeline) > 1 and
                      summary.timeline[0][0].year == summary.timeline[-1][0].year else format_date(day))
    caption = _("Active mailboxes declared at the end of each day that changed them, from git history.")
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="{current()}">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{esc(title(summary))}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(title(summary))}</h1>",
        '<ul class="notes">' + "".join(f"<li>{esc(n)}</li>" for n in notes(summary)) + "</ul>",
        "<h2>" + esc(_("Active mailboxes over time")) + "</h2>",
        f'<figure id="chart">{chart}<figcaption>{esc(caption)}</figcaption></figure>',
        "<h2>" + esc(_("Per unit")) + "</h2>",
        f'<table id="units"><thead><tr>{head}</tr></thead><tbody>',
        *body,
        "</tbody></table>",
        "</body>",
        "</html>",
    ]) + "\n"
