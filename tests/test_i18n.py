"""Vietnamese for the people who read it: the catalog is complete and current, the language switch, dates."""

from __future__ import annotations

import os
import re
import shutil
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from conftest import REPO_ROOT
from support.units import unit_file

from reconciler import i18n
from reconciler.i18n import catalogs
from reconciler.textfmt import md as escape_md

PO = REPO_ROOT / "reconciler" / "i18n" / "locales" / "vi" / "LC_MESSAGES" / "reconciler.po"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def source_messages() -> set[str | tuple[str, str]]:
    """Every message the code asks to translate, found the way `scripts/i18n` extracts them."""
    found: set[str | tuple[str, str]] = set()
    method_map = [("reconciler/**.py", "python")]
    for _file, _line, message, _comments, _context in extract_from_dir(REPO_ROOT, method_map=method_map,
                                                                          keywords=KEYWORDS):
        found.add(message)
    return found


def catalog():
    with PO.open("rb") as handle:
        return read_po(handle, locale="vi")


def test_every_message_in_the_catalog_has_a_vietnamese_translation():
    untranslated = [m.id for m in catalog() if m.id and (not m.string or not all(m.string if isinstance(
        m.string, tuple) else [m.string]) or m.fuzzy)]
    assert untranslated == []


def test_the_catalog_is_up_to_date_with_the_code():
    """Extraction finds no message the catalog lacks, and the catalog keeps none the code dropped."""
    in_catalog = {m.id for m in catalog() if m.id}
    in_code = source_messages()
    assert len(in_code) > 100
    assert sorted(map(str, in_code - in_catalog)) == [], "run scripts/i18n and translate the new messages"
    assert sorted(map(str, in_catalog - in_code)) == [], "run scripts/i18n: the catalog has messages the code dropped"


def test_translations_keep_every_placeholder():
    """A translation that loses or renames {name} would raise KeyError or drop a fact at run time."""
    wrong = []
    for message in catalog():
        if not message.id:
            continue
        source = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            if set(PLACEHOLDER.findall(source)) != set(PLACEHOLDER.findall(text)):
                wrong.append((source, text))
    assert wrong == []


def test_vietnamese_is_spoken_when_asked():
    assert i18n.translations("vi").gettext("Disable") == "Vô hiệu hoá"
    i18n.use("vi")
    assert i18n._("Mailbox plan") == "Kế hoạch thay đổi hộp thư công vụ"
    assert i18n.ngettext("{count} problem", "{count} problems", 3).format(count=3) == "3 lỗi"
    i18n.use("en")
    assert i18n._("Mailbox plan") == "Mailbox plan"
    with i18n.speaking("vi"):
        assert i18n._("Remove") == "Xoá"
    assert i18n._("Remove") == "Remove"


@pytest.mark.parametrize(("cli", "setting", "env", "expected"), [
    ("en", "vi", {"LANG": "vi_VN.UTF-8"}, "en"),      # --lang wins
    (None, "en", {"LANG": "vi_VN.UTF-8"}, "en"),      # then the setting
    (None, None, {"LANG": "vi_VN.UTF-8"}, "vi"),      # then the locale
    (None, None, {"LANG": "en_GB.UTF-8"}, "en"),
    (None, None, {"LC_ALL": "vi_VN", "LANG": "en_US"}, "vi"),  # LC_ALL before LANG, as gettext
    (None, None, {"LANG": "C.UTF-8"}, "vi"),          # a locale naming neither: Vietnamese
    (None, None, {}, "vi"),
])
def test_language_is_chosen_by_lang_then_setting_then_locale(cli, setting, env, expected):
    assert i18n.resolve(cli, setting, env) == expected


def test_dates_for_people_are_day_month_year():
    assert i18n.format_date(date(2026, 3, 2)) == "02/03/2026"
    moment = datetime(2026, 3, 2, 3, 5, tzinfo=UTC)
    assert i18n.format_datetime(moment) == "02/03/2026 03:05 +00:00"
    assert i18n.format_datetime(moment, timezone(timedelta(hours=7))) == "02/03/2026 10:05 +07:00"


def test_a_missing_or_stale_mo_is_compiled_at_import(tmp_path, monkeypatch):
    """The .po is the source: a .mo missing or older than it is compiled (and cached next to it)."""
    locales = tmp_path / "locales"
    shutil.copytree(PO.parent.parent.parent, locales, ignore=shutil.ignore_patterns("*.mo", "*.tmp"))
    monkeypatch.setattr(catalogs, "LOCALES", locales)
    po = locales / "vi" / "LC_MESSAGES" / "reconciler.po"
    mo = po.with_suffix(".mo")
    assert not mo.exists()
    assert b"V\xc3\xb4 hi\xe1\xbb\x87u ho\xc3\xa1" in catalogs.compiled("vi")  # "Vô hiệu hoá"
    assert mo.exists()
    # Edit the .po after the .mo was written: the next load sees the edit.
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "Vô hiệu hoá"', 'msgstr "Khoá"'), encoding="utf-8")
    later = time.time() + 5
    os.utime(po, (later, later))
    assert b"Kho\xc3\xa1" in catalogs.compiled("vi")
    # A read-only install: compiled in memory, nothing written.
    mo.unlink()

    def read_only(self: Path, data: bytes) -> int:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_bytes", read_only)
    assert b"Kho\xc3\xa1" in catalogs.compiled("vi")
    assert not mo.exists()


def write_pr(repo) -> None:
    """main: Nguyễn Thị Mỹ Ly active under ticket 852; the PR disables her under ticket 15/QĐ-STTTT."""
    ly = {"address": "lyntm@quangngai.gov.vn", "name": "Nguyễn Thị Mỹ Ly"}
    an = {"address": "annv@quangngai.gov.vn", "aliases": ["an.nguyen@quangngai.gov.vn"]}
    repo.write("so-tttt.yaml", unit_file([ly, an]).replace("    status: active\n", "    status: active\n"
                                                          "    ticket: 852/QĐ-UBND\n"))
    repo.commit("Khởi tạo")


def test_pr_comment_in_vietnamese_names_the_person_the_unit_and_the_ticket(repo, run_cli):
    write_pr(repo)
    assert run_cli("apply", "--yes", cwd=repo.root).exit_code == 0
    repo.git.git.checkout("-b", "pr-15")
    text = (repo.root / "mailboxes" / "so-tttt.yaml").read_text(encoding="utf-8")
    first, rest = text.split("  - address: annv", 1)
    first = first.replace("status: active\n    ticket: 852/QĐ-UBND", "status: disabled\n    ticket: 15/QĐ-STTTT")
    rest = rest.replace("aliases: [an.nguyen@quangngai.gov.vn]", "aliases: [an.nv@quangngai.gov.vn]")
    (repo.root / "mailboxes" / "so-tttt.yaml").write_text(first + "  - address: annv" + rest, encoding="utf-8")
    repo.commit("Vô hiệu hoá hộp thư Nguyễn Thị Mỹ Ly")
    result = run_cli("plan", "--base", "main", "--format", "markdown", "--lang", "vi", cwd=repo.root)
    assert result.exit_code == 0, result.output
    md = result.stdout
    assert "### Kế hoạch thay đổi hộp thư công vụ" in md
    assert "### Thay đổi do pull request này đề nghị" in md
    assert "#### Vô hiệu hoá (1)" in md
    assert "| Địa chỉ | Họ tên | Đơn vị | Văn bản | Nội dung thay đổi |" in md
    assert ("| `lyntm@quangngai.gov.vn` | Nguyễn Thị Mỹ Ly | Sở Thông tin và Truyền thông | 15/QĐ-STTTT | "
            "trạng thái: đang hoạt động → đã vô hiệu hoá _(đề nghị)_ |") in md
    assert escape_md("địa chỉ phụ: + an.nv@quangngai.gov.vn, − an.nguyen@quangngai.gov.vn") in md
    assert "Disable" not in md and "Changes in this pull request" not in md
    # The same repository, asked in English.
    english = run_cli("plan", "--base", "main", "--format", "markdown", "--lang", "en", cwd=repo.root).stdout
    assert "#### Disable (1)" in english and "| Nguyễn Thị Mỹ Ly | Sở Thông tin và Truyền thông | 15/QĐ-STTTT |" \
        in english


def test_language_setting_and_locale_reach_the_command_line(repo, run_cli, monkeypatch):
    write_pr(repo)
    settings = repo.config.read_text(encoding="utf-8")
    repo.config.write_text(settings.replace("language: en\n", "language: vi\n"), encoding="utf-8")
    assert run_cli("validate", cwd=repo.root).stdout.strip() == "1 tệp, 2 hộp thư: hợp lệ"
    assert run_cli("validate", "--lang", "en", cwd=repo.root).stdout.strip() == "1 files, 2 mailboxes: valid"
    assert i18n.current() == "en"  # a command's language ends with it (the Python API runs many in one process)
    repo.config.write_text(settings.replace("language: en\n", ""), encoding="utf-8")
    monkeypatch.setenv("LANG", "vi_VN.UTF-8")
    assert run_cli("validate", cwd=repo.root).stdout.strip() == "1 tệp, 2 hộp thư: hợp lệ"
    # Errors too, before any settings are read.
    missing = run_cli("history", "x@quangngai.gov.vn", "--lang", "vi", "--config", "nowhere.yaml", cwd=repo.root)
    assert missing.exit_code == 1
    broken = run_cli("report", "--since", "hôm qua", "--lang", "vi", cwd=repo.root)
    assert broken.stderr.strip() == "lỗi: --since: 'hôm qua' không phải là ngày; hãy viết YYYY-MM-DD"


def test_setting_rejects_an_unknown_language(repo, run_cli):
    repo.config.write_text(repo.config.read_text(encoding="utf-8").replace("language: en", "language: fr"),
                           encoding="utf-8")
    result = run_cli("validate", cwd=repo.root)
    assert result.exit_code == 1
    assert "reconciler.yaml:11:11: language:" in result.stderr, result.stderr


def test_threshold_preview_and_drift_note_in_the_pr_comment(repo, run_cli):
    from support.units import people

    repo.write("so-tttt.yaml", unit_file(people(20)))
    repo.commit("Khởi tạo")
    assert run_cli("apply", "--yes", cwd=repo.root).exit_code == 0
    # Drift: someone changed a mailbox's kind in the directory by hand.
    ldif = repo.root / "var" / "directory.ldif"
    text = ldif.read_text(encoding="utf-8")
    assert "employeeType: personal" in text
    ldif.write_text(text.replace("employeeType: personal", "employeeType: functional", 1), encoding="utf-8")
    repo.git.git.checkout("-b", "pr-16")
    repo.write("so-tttt.yaml", unit_file(people(17) + people(20, status="disabled")[17:]))
    repo.commit("Vô hiệu hoá 3 hộp thư")
    md = run_cli("plan", "--base", "main", "--format", "markdown", cwd=repo.root).stdout
    assert "Apply will refuse this plan without force: the plan disables or removes 3 of 20 managed accounts" in md
    assert "run the Apply workflow by hand with force checked" in md
    assert "Merging also reverts 1 drift change listed under Drift" in md
    small = run_cli("plan", "--format", "markdown", cwd=repo.root).stdout
    assert "Merging also reverts" not in small  # no --base: no drift to speak of


def test_declaration_only_changes_have_their_own_section(repo, run_cli):
    write_pr(repo)
    assert run_cli("apply", "--yes", cwd=repo.root).exit_code == 0
    repo.git.git.checkout("-b", "pr-17")
    path = repo.root / "mailboxes" / "so-tttt.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("ticket: 852/QĐ-UBND", "ticket: 17/QĐ-STTTT\n"
                                                             "    expires: 2027-06-30"), encoding="utf-8")
    repo.commit("Gia hạn")
    md = run_cli("plan", "--base", "main", "--format", "markdown", cwd=repo.root).stdout
    assert "No changes." not in md
    assert "### Declaration changes (nothing changes in the directory)" in md
    assert ("| `lyntm@quangngai.gov.vn` | Nguyễn Thị Mỹ Ly | Sở Thông tin và Truyền thông | 17/QĐ-STTTT | "
            "expires: — → 30/06/2027; ticket: 852/QĐ-UBND → 17/QĐ-STTTT |") in md


def test_a_declaration_change_beside_a_directory_change_is_still_shown(repo, run_cli):
    write_pr(repo)
    assert run_cli("apply", "--yes", cwd=repo.root).exit_code == 0
    repo.git.git.checkout("-b", "pr-18")
    path = repo.root / "mailboxes" / "so-tttt.yaml"
    text = path.read_text(encoding="utf-8")
    first, rest = text.split("  - address: annv", 1)
    first = first.replace("status: active\n    ticket: 852/QĐ-UBND", "status: disabled\n    ticket: 18/QĐ-STTTT\n"
                          "    expires: 2027-06-30")
    path.write_text(first + "  - address: annv" + rest, encoding="utf-8")
    repo.commit("Vô hiệu hoá và gia hạn")
    md = run_cli("plan", "--base", "main", "--format", "markdown", cwd=repo.root).stdout
    assert "#### Disable (1)" in md  # the directory change in its own row…
    declared = md.split("### Declaration changes (nothing changes in the directory)")[1]
    assert "expires: — → 30/06/2027; ticket: 852/QĐ-UBND → 18/QĐ-STTTT" in declared  # …and what it does not hold
    assert "status" not in declared.split("\n\n")[1]


def test_a_created_mailbox_shows_what_it_answers_to_and_forwards_to(repo, run_cli):
    repo.write("so-tttt.yaml", unit_file([
        {"address": "annv@quangngai.gov.vn", "aliases": ["an.nguyen@quangngai.gov.vn"]},
        {"address": "binhtt@quangngai.gov.vn", "forward_to": ["annv@quangngai.gov.vn"]}]))
    md = run_cli("plan", "--format", "markdown", cwd=repo.root).stdout
    an = next(line for line in md.splitlines() if line.startswith("| `annv@"))
    assert escape_md("aliases: + an.nguyen@quangngai.gov.vn") in an
    binh = next(line for line in md.splitlines() if line.startswith("| `binhtt@"))
    assert escape_md("forward to: + annv@quangngai.gov.vn") in binh


# -- every problem line and error in Vietnamese (issue #12, item 1) -----------------------------------------


def test_validate_in_vietnamese_problem_lines_and_summary(repo, run_cli):
    """A policy problem, a schema problem with its "did you mean" and the summary, all in Vietnamese; the rule
    names, field paths and file:line stay as they are."""
    text = unit_file([{"address": "LyNTM@quangngai.gov.vn", "owner": "QN-000001"},
                      {"address": "annv@quangngai.gov.vn", "owner": "QN-000002", "forward_to": ["an.qn@gmail.com"]}])
    repo.write("so-tttt.yaml", text.replace("    kind: personal\n", "    kind: personal\n    stauts: active\n", 1))
    repo.commit()
    result = run_cli("validate", "--lang", "vi", cwd=repo.root)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(": mailboxes[0].stauts: trường 'stauts' không hợp lệ; có phải ý bạn là 'status'? các trường được "
               "phép: " in line for line in lines), lines
    assert result.stderr.strip() == "1 tệp, 0 hộp thư: 1 lỗi"
    repo.write("so-tttt.yaml", text)
    repo.commit()
    result = run_cli("validate", "--lang", "vi", cwd=repo.root)
    lines = result.stdout.splitlines()
    assert ("mailboxes/so-tttt.yaml:5:14: LyNTM@quangngai.gov.vn: mailboxes[0].address: địa chỉ phải viết thường; "
            "hãy dùng 'lyntm@quangngai.gov.vn'") in lines
    assert any(line.endswith("annv@quangngai.gov.vn: mailboxes[1].forward_to[0]: cấm chuyển tiếp đến nhà cung cấp "
                             "thư công cộng (gmail.com)") for line in lines), lines
    assert result.stderr.strip() == "1 tệp, 2 hộp thư: 2 lỗi"
    json_out = run_cli("validate", "--lang", "vi", "--format", "json", cwd=repo.root).stdout
    assert '"rule": "address-format"' in json_out and "địa chỉ phải viết thường" in json_out
    english = run_cli("validate", cwd=repo.root)
    assert "addresses are lowercase; use 'lyntm@quangngai.gov.vn'" in english.stdout
    assert english.stderr.strip() == "1 files, 2 mailboxes: 2 problems"


def test_apply_lines_and_refusals_in_vietnamese(repo, run_cli):
    repo.write("so-tttt.yaml", unit_file([{"address": "lyntm@quangngai.gov.vn"}]))
    repo.commit()
    applied = run_cli("apply", "--yes", "--lang", "vi", cwd=repo.root)
    assert applied.exit_code == 0, applied.output
    assert "Đã áp dụng: 1 cấp mới (từ commit " in applied.stdout
    repo.write("so-tttt.yaml", unit_file([{"address": "lyntm@quangngai.gov.vn", "status": "disabled"}]))
    refused = run_cli("apply", "--yes", "--lang", "vi", cwd=repo.root)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        "lỗi: bản làm việc git có thay đổi chưa commit (mailboxes/so-tttt.yaml); lệnh apply chỉ áp dụng khai báo "
        "đã commit và đã được duyệt; dùng --allow-dirty khi thử nghiệm cục bộ")
    english = run_cli("apply", "--yes", cwd=repo.root)
    assert english.stderr.startswith("error: the work tree has uncommitted changes (mailboxes/so-tttt.yaml)")


def test_directory_connection_error_in_vietnamese(repo, run_cli):
    """A server that is not there: the one error line says so in Vietnamese, naming the url."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repo.write("so-tttt.yaml", unit_file([{"address": "lyntm@quangngai.gov.vn"}]))
    repo.commit()
    env = {"RECONCILER_LDAP_URL": f"ldap://127.0.0.1:{port}", "RECONCILER_BIND_DN": "cn=admin,dc=quangngai",
           "RECONCILER_BIND_PASSWORD": "khong-dung"}
    result = run_cli("plan", "--lang", "vi", cwd=repo.root, env=env)
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"lỗi: ldap://127.0.0.1:{port}: không kết nối được: kết nối bị từ chối "
                                     "(máy chủ có đang chạy và url có đúng không?)")
    english = run_cli("plan", cwd=repo.root, env=env)
    assert english.stderr.strip() == (f"error: ldap://127.0.0.1:{port}: cannot connect: connection refused "
                                      "(is the server running and the url right?)")
