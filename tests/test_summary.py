"""`report --summary`: the province's figures, and the files a person opens (HTML in a real browser, XLSX, CSV)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from support.backends import Backend, dn_of
from support.units import ADMIN_RESET, unit_file

SO_YTE = "Sở Y tế"


def unit(unit_id: str, name: str, mailboxes: list[dict], staff: int | None = None) -> str:
    text = unit_file(mailboxes, unit_id).replace("  name: Sở Thông tin và Truyền thông", f"  name: {name}")
    if staff is not None:
        text = text.replace(f"  id: {unit_id}\n", f"  id: {unit_id}\n  staff: {staff}\n", 1)
    return text


def person(address: str, name: str, owner: str, status: str = "active", kind: str = "personal") -> dict:
    return {"address": address, "name": name, "owner": owner, "status": status, "kind": kind}


LAN = person("lannt@quangngai.gov.vn", "Nguyễn Thị Lan", "QN-1")
HUNG = person("hunglv@quangngai.gov.vn", "Lê Văn Hùng", "QN-2")
MAI = person("maitt@quangngai.gov.vn", "Trần Thị Mai", "QN-3")
VANTHU = person("vanthu.syt@quangngai.gov.vn", "Văn thư Sở Y tế", "QN-1", kind="functional")
DUNG = person("dungdn@quangngai.gov.vn", "Đặng Ngọc Dũng", "QN-4")
HOA = person("hoapt@quangngai.gov.vn", "Phạm Thị Hoa", "QN-5")


@pytest.fixture
def history(repo):
    """Sở Y tế and UBND huyện Lý Sơn grow from January to May 2026; one review is recorded in April."""
    repo.write("so-yte.yaml", unit("so-yte", SO_YTE, [LAN, HUNG]))
    repo.commit("Khởi tạo", date="2026-01-05T09:00:00+07:00")
    repo.write("ubnd-ly-son.yaml", unit("ubnd-ly-son", "UBND huyện Lý Sơn", [DUNG], staff=4))
    repo.commit("Lý Sơn", date="2026-02-10T09:00:00+07:00")
    repo.write("so-yte.yaml", unit("so-yte", SO_YTE, [LAN, HUNG, MAI, VANTHU]))
    repo.commit("Thêm Mai, văn thư", date="2026-03-15T09:00:00+07:00")
    (repo.root / "reviews").mkdir()
    (repo.root / "reviews" / "2026-04-20.md").write_text("# Rà soát tháng 4\n", encoding="utf-8")
    repo.commit("Rà soát tháng 4", date="2026-04-20T09:00:00+07:00")
    repo.write("so-yte.yaml", unit("so-yte", SO_YTE, [LAN, {**HUNG, "status": "disabled"}, MAI, VANTHU]))
    repo.write("ubnd-ly-son.yaml", unit("ubnd-ly-son", "UBND huyện Lý Sơn", [DUNG, HOA], staff=4))
    repo.commit("Khoá Hùng, thêm Hoa", date="2026-05-12T09:00:00+07:00")
    return repo


def summary_json(run_cli, repo, *args: str) -> dict:
    result = run_cli("report", "--summary", "--at", "2026-05-31", "--since", "2026-05-01", "--format", "json",
                     *args, cwd=repo.root)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_summary_figures_per_unit_and_in_total(history, run_cli):
    data = summary_json(run_cli, history)
    yte, lyson = data["units"]
    assert (yte["unit"], yte["unit_name"]) == ("so-yte", SO_YTE)
    assert {k: yte[k] for k in ("active", "disabled", "removed", "personal", "functional", "created",
                                "removed_in_period", "staff", "used")} == {
        "active": 3, "disabled": 1, "removed": 0, "personal": 2, "functional": 1, "created": 0,
        "removed_in_period": 0, "staff": None, "used": None}
    # Lý Sơn declares 4 staff; 2 of them hold an active personal mailbox; Hoa was created in May.
    assert (lyson["active"], lyson["created"], lyson["staff"], lyson["staff_with_mailbox"], lyson["staff_share"]) \
        == (2, 1, 4, 2, 0.5)
    assert data["total"]["active"] == 5 and data["total"]["created"] == 1 and data["total"]["staff"] == 4
    assert data["staff_source"] == "unit files" and data["usage_measured"] is False
    assert data["last_review"] == "2026-04-20"
    # One point per day that changed the declarations, up to --at.
    assert data["timeline"] == [{"date": "2026-01-05", "active": 2}, {"date": "2026-02-10", "active": 3},
                                {"date": "2026-03-15", "active": 5}, {"date": "2026-05-12", "active": 5}]
    earlier = summary_json(run_cli, history, "--at", "2026-03-31")
    assert [p["date"] for p in earlier["timeline"]][-1] == "2026-03-15" and earlier["last_review"] is None


def test_roster_with_vietnamese_headers_counts_staff_still_working(history, run_cli, tmp_path):
    roster = tmp_path / "danh-sach.csv"
    roster.write_text("\ufeffmã,họ tên,đơn vị,ngày nghỉ\n"
                      "QN-1,Nguyễn Thị Lan,so-yte,\n"
                      "QN-2,Lê Văn Hùng,so-yte,\n"          # disabled mailbox: staff without one
                      "QN-3,Trần Thị Mai,so-yte,15/05/2026\n"  # left before --at: not counted
                      "QN-9,Võ Văn Mới,so-yte,\n"
                      "QN-4,Đặng Ngọc Dũng,UBND huyện Lý Sơn,\n",  # HR often writes the unit's name
                      encoding="utf-8")
    data = summary_json(run_cli, history, "--roster", str(roster))
    yte, lyson = data["units"]
    assert (yte["staff"], yte["staff_with_mailbox"], yte["staff_share"]) == (3, 1, 0.3333)
    assert (lyson["staff"], lyson["staff_with_mailbox"]) == (1, 1)
    assert data["staff_source"] == "roster"
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\nQN-1,Lan\n", encoding="utf-8")
    result = run_cli("report", "--summary", "--roster", str(bad), cwd=history.root)
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"{bad}:1: missing column(s) unit; the header must name "
                                     "id,name,unit[,left_on] (or mã,họ tên,đơn vị,ngày nghỉ), found: id,name")


def test_share_used_comes_from_real_logins(repo, slapd, run_cli):
    """--live reads pwdLastSuccess, written by slapd when the person really binds."""
    backend = Backend("slapd", repo.root, slapd, {"RECONCILER_BIND_DN": slapd.admin_dn,
                                                  "RECONCILER_BIND_PASSWORD": slapd.admin_password})
    backend.configure(repo.config)
    repo.write("so-yte.yaml", unit("so-yte", SO_YTE, [LAN, HUNG, MAI]))
    repo.commit("Khởi tạo")
    assert run_cli("apply", "--yes", cwd=repo.root, env=backend.env).exit_code == 0
    backend.modify(LAN["address"], userPassword=[ADMIN_RESET])
    assert slapd.can_bind(dn_of(LAN["address"]), ADMIN_RESET)
    result = run_cli("report", "--summary", "--live", "--format", "json", cwd=repo.root, env=backend.env)
    assert result.exit_code == 0, result.output
    (yte,) = json.loads(result.stdout)["units"]
    assert (yte["active"], yte["used"], yte["used_share"]) == (3, 1, 0.3333)
    offline = json.loads(run_cli("report", "--summary", "--format", "json", cwd=repo.root).stdout)
    assert offline["usage_measured"] is False and offline["units"][0]["used"] is None


def test_no_usage_figure_that_is_not_true(history, run_cli):
    """Today's logins say nothing about a past date, and the embedded directory records none: both are
    refused with one line rather than printed as a share."""
    past = run_cli("report", "--summary", "--live", "--at", "2026-05-31", cwd=history.root)
    assert past.exit_code == 1 and "it cannot describe 31/05/2026" in past.stderr
    result = run_cli("report", "--summary", "--live", cwd=history.root)
    assert result.exit_code == 1
    assert "the embedded directory records no logins" in result.stderr


def test_csv_starts_with_a_byte_order_mark_and_keeps_vietnamese(history, run_cli, tmp_path):
    out = tmp_path / "tong-hop.csv"
    result = run_cli("report", "--summary", "--at", "2026-05-31", "--format", "csv", "--lang", "vi", "--out",
                     str(out), cwd=history.root)
    assert result.exit_code == 0 and result.stdout == ""
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # what makes Excel read UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Mã đơn vị", "Đơn vị", "Đang hoạt động"]
    assert rows[1][:3] == ["so-yte", SO_YTE, "3"]
    assert rows[2][:2] == ["ubnd-ly-son", "UBND huyện Lý Sơn"]
    assert rows[3][:3] == ["", "Tổng cộng", "5"]


def test_xlsx_keeps_the_vietnamese_text(history, run_cli, tmp_path):
    out = tmp_path / "tong-hop.xlsx"
    result = run_cli("report", "--summary", "--at", "2026-05-31", "--format", "xlsx", "--lang", "vi", "--out",
                     str(out), cwd=history.root)
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    sheet = book.worksheets[0]
    assert sheet["A1"].value == "Hộp thư công vụ — báo cáo tổng hợp tại ngày 31/05/2026"
    assert [c.value for c in sheet[3]][:4] == ["Mã đơn vị", "Đơn vị", "Đang hoạt động", "Đã vô hiệu hoá"]
    assert [c.value for c in sheet[4]][:3] == ["so-yte", SO_YTE, 3]
    assert [c.value for c in sheet[5]][:2] == ["ubnd-ly-son", "UBND huyện Lý Sơn"]
    assert [c.value for c in sheet[6]][:3] == [None, "Tổng cộng", 5]
    share = sheet.cell(row=5, column=2 + [k for k, _ in __import__(
        "reconciler.audit.summary_formats", fromlist=["COLUMNS"]).COLUMNS].index("staff_share"))
    assert share.value == 0.5 and share.number_format == "0.0%"
    timeline = book.worksheets[1]
    assert [r[1] for r in timeline.iter_rows(min_row=2, values_only=True)] == [2, 3, 5, 5]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is missing: scripts/install-test-deps installs it"
    return found


def browser(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-dev-shm-usage", f"--user-data-dir={cwd / 'profile'}", *args]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_html_page_renders_in_a_real_browser_with_the_chart_and_every_unit(history, run_cli, tmp_path):
    page = tmp_path / "tong-hop.html"
    result = run_cli("report", "--summary", "--at", "2026-05-31", "--format", "html", "--lang", "vi", "--out",
                     str(page), cwd=history.root)
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    # Self-contained: nothing fetched from anywhere, printable on A4, in the report's language.
    assert "<script" not in text and "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text and "@import" not in text and "url(" not in text and "<link" not in text
    assert "@page { size: A4;" in text and '<html lang="vi">' in text

    shot = tmp_path / "tong-hop.png"
    taken = browser(f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri(), cwd=tmp_path)
    assert shot.exists() and shot.stat().st_size > 10_000, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Printed, every page is A4 (595 × 842 points).
    pdf = tmp_path / "tong-hop.pdf"
    printed = browser(f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri(), cwd=tmp_path)
    assert pdf.exists(), printed.stderr[-2000:]
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf.read_bytes())
    assert boxes and all(abs(float(w) - 595.3) < 1.5 and abs(float(h) - 841.9) < 1.5 for w, h in boxes), boxes

    dom = browser("--dump-dom", page.as_uri(), cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "Hộp thư công vụ — báo cáo tổng hợp tại ngày 31/05/2026" in html
    assert 'data-unit="so-yte"' in html and f"<td>{SO_YTE}</td>" in html
    assert 'data-unit="ubnd-ly-son"' in html and "<td>UBND huyện Lý Sơn</td>" in html
    assert '<tr class="total"><td>Tổng cộng</td>' in html
    assert html.count("<circle") == 4  # one point per day that changed the declarations
    assert "polyline" in html and "Số hộp thư đang hoạt động theo thời gian" in html
    assert "Lần rà soát gần nhất: ngày 20/04/2026." in html
    assert "Mức sử dụng trong 30 ngày qua: chưa đo" in html


def test_html_and_xlsx_need_summary(history, run_cli):
    result = run_cli("report", "--format", "html", cwd=history.root)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: --format html is for the summary: add --summary"
