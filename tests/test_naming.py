from __future__ import annotations

import pytest

from reconciler.declarations.naming import conventional_local_part, fold, suggest_address


@pytest.mark.parametrize(
    ("name", "local"),
    [
        ("Đặng Ngọc Dũng", "dungdn"),
        ("Nguyễn Thị Ánh Tuyết", "tuyetnta"),
        ("Trần Văn An", "antv"),
        ("Lê Đức", "ducl"),
        ("  Huỳnh   Thị  Thu   Hương ", "huonghtt"),
        ("Ông Ích Khiêm", "khiemoi"),
    ],
)
def test_conventional_local_part(name, local):
    assert conventional_local_part(name) == local


def test_fold_handles_d_with_stroke_and_all_tones():
    assert fold("Đường Ưng Ạ Ỷ ỹ đ") == "Duong Ung A Y y d"


def test_collision_adds_a_digit():
    taken = ["dungdn@quangngai.gov.vn", "DUNGDN2@quangngai.gov.vn"]
    assert suggest_address("Đặng Ngọc Dũng", "quangngai.gov.vn", taken) == "dungdn3@quangngai.gov.vn"
    assert suggest_address("Đặng Ngọc Dũng", "quangngai.gov.vn", []) == "dungdn@quangngai.gov.vn"


def test_new_command_prints_entry_and_avoids_aliases(repo, run_cli):
    repo.write("so-tttt.yaml", """\
        unit: {id: so-tttt, name: Sở TT&TT}
        mailboxes:
          - address: annv@quangngai.gov.vn
            name: Nguyễn Văn An
            kind: personal
            owner: {id: QN-1, name: Nguyễn Văn An}
            status: active
            aliases: [dungdn@quangngai.gov.vn]
        """)
    result = run_cli("new", "Đặng Ngọc Dũng", "--unit", "so-tttt", "--owner-id", "QN-7", "--ticket", "1/QĐ",
                     cwd=repo.root)
    assert result.exit_code == 0, result.output
    assert "  - address: dungdn2@quangngai.gov.vn" in result.stdout
    assert "    owner: {id: QN-7, name: Đặng Ngọc Dũng}" in result.stdout
    # The printed entry pastes into the file and validates.
    path = repo.root / "mailboxes" / "so-tttt.yaml"
    entry = "\n".join(line for line in result.stdout.splitlines() if not line.startswith("#"))
    path.write_text(path.read_text() + entry + "\n")
    check = run_cli("validate", cwd=repo.root)
    assert check.exit_code == 0, check.output


def test_new_command_refuses_unknown_unit(repo, run_cli):
    result = run_cli("new", "Trần Văn An", "--unit", "so-khong-co", cwd=repo.root)
    assert result.exit_code == 1
    assert "unknown unit 'so-khong-co'" in result.stderr
