"""The PR -> plan -> merge -> apply -> audit flow, with real git repositories and a real slapd."""

from __future__ import annotations

import json

import git
import pytest
from support.backends import Backend
from support.units import unit_file

AN = {"address": "annv@quangngai.gov.vn", "aliases": ["an.nguyen@quangngai.gov.vn"]}
BINH = {"address": "binhtt@quangngai.gov.vn", "name": "Trần Thị Bình"}
CUONG = {"address": "cuonglm@quangngai.gov.vn", "name": "Lê Minh Cường"}


def with_ticket(text: str, ticket: str) -> str:
    return text.replace("    status:", f"    ticket: {ticket}\n    status:")


@pytest.fixture
def flow(repo, slapd, tmp_path, run_cli):
    """A work clone with a bare origin; main holds AN, BINH and CUONG, committed on 2 March and applied."""
    backend = Backend("slapd", repo.root, slapd, {"RECONCILER_BIND_DN": slapd.admin_dn,
                                                  "RECONCILER_BIND_PASSWORD": slapd.admin_password})
    backend.configure(repo.config)
    origin = git.Repo.init(tmp_path / "origin.git", bare=True, initial_branch="main")
    repo.git.create_remote("origin", str(origin.working_dir))
    repo.write("so-tttt.yaml", with_ticket(unit_file([AN, BINH, CUONG]), "10/QĐ-STTTT"))
    repo.commit("Khởi tạo hộp thư Sở TT&TT", date="2026-03-02T09:00:00+07:00")
    repo.git.git.push("origin", "main")
    repo.git.git.fetch("origin")

    def cli(*args: str):
        return run_cli(*args, cwd=repo.root, env=backend.env)

    applied = cli("apply", "--yes", "--now", "2026-03-02T10:00:00+07:00")
    assert applied.exit_code == 0, applied.output
    return repo, backend, origin, cli


def open_pr(repo) -> None:
    """Branch pr-12: add HOA, disable BINH (ticket 12/QĐ-STTTT)."""
    repo.git.git.checkout("-b", "pr-12")
    hoa = {"address": "hoapt@quangngai.gov.vn", "name": "Phạm Thị Hoa"}
    repo.write("so-tttt.yaml", with_ticket(unit_file([AN, {**BINH, "status": "disabled"}, CUONG, hoa]),
                                           "12/QĐ-STTTT"))
    repo.commit("Thêm hộp thư Phạm Thị Hoa, khoá hộp thư Trần Thị Bình",
                author="Lê Văn Soạn <soanlv@quangngai.gov.vn>", date="2026-03-10T08:30:00+07:00")


def merge_pr(repo) -> str:
    repo.git.git.checkout("main")
    with repo.git.git.custom_environment(GIT_AUTHOR_DATE="2026-03-11T14:00:00+07:00",
                                         GIT_COMMITTER_DATE="2026-03-11T14:00:00+07:00",
                                         GIT_AUTHOR_NAME="Võ Trưởng Phòng",
                                         GIT_AUTHOR_EMAIL="truongphong@quangngai.gov.vn"):
        repo.git.git.merge("--no-ff", "pr-12", "-m", "Merge pull request #12 from quangngai/pr-12")
    repo.git.git.push("origin", "main")
    repo.git.git.fetch("origin")
    return repo.git.head.commit.hexsha


def notes_in(origin: git.Repo, sha: str) -> list[dict]:
    text = origin.git.notes("--ref", "reconciler", "show", sha)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_first_apply_records_a_note_on_origin(flow):
    repo, _backend, origin, cli = flow
    (record,) = notes_in(origin, repo.git.head.commit.hexsha)
    assert record["commit"] == repo.git.head.commit.hexsha
    assert record["applied_at"] == "2026-03-02T10:00:00+07:00"
    assert record["directory"].startswith("ldap://127.0.0.1:")
    assert sorted(c["address"] for c in record["changes"]) == ["annv@quangngai.gov.vn", "binhtt@quangngai.gov.vn",
                                                               "cuonglm@quangngai.gov.vn"]
    assert all(c["outcome"] == "ok" and c["action"] == "create" for c in record["changes"])
    plan = cli("plan")
    assert f"Last applied: 02/03/2026 10:00 +07:00 from commit {repo.git.head.commit.hexsha[:12]}" in plan.stdout


def test_pr_plan_separates_its_changes_from_drift(flow):
    repo, backend, _origin, cli = flow
    backend.modify("cuonglm@quangngai.gov.vn", ou=["so-khac"])  # someone edited the directory by hand
    open_pr(repo)
    result = cli("plan", "--base", "origin/main", "--format", "json")
    assert result.exit_code == 0, result.output
    changes = {c["address"]: (c["action"], c["origin"]) for c in json.loads(result.stdout)["changes"]}
    assert changes == {"hoapt@quangngai.gov.vn": ("create", "change"),
                       "binhtt@quangngai.gov.vn": ("disable", "change"),
                       "cuonglm@quangngai.gov.vn": ("update", "drift")}
    md = cli("plan", "--base", "origin/main", "--format", "markdown").stdout
    pr_part, drift_part = md.split("### Changes in this pull request")[1].split("### Drift")
    assert "hoapt@quangngai.gov.vn" in pr_part and "binhtt@quangngai.gov.vn" in pr_part
    assert "cuonglm@quangngai.gov.vn" not in pr_part
    assert "cuonglm@quangngai.gov.vn" in drift_part and "hoapt" not in drift_part


def test_validate_base_catches_deletion_and_skipped_lifecycle_steps(flow):
    repo, _backend, _origin, cli = flow
    repo.git.git.checkout("-b", "pr-13")
    repo.write("so-tttt.yaml", unit_file([{**AN, "status": "removed"}, CUONG]))
    result = cli("validate", "--base", "origin/main")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("mailboxes/so-tttt.yaml:") and "mailboxes[0].status: active -> removed skips a step"
               in line for line in lines), lines
    assert any("binhtt@quangngai.gov.vn was deleted from the declarations; keep it with status: removed" in line
               for line in lines), lines
    assert cli("validate").exit_code == 0  # without a base revision both are fine on their own


def test_apply_refuses_off_main_and_on_a_dirty_tree(flow):
    repo, backend, _origin, cli = flow
    open_pr(repo)
    off_main = cli("apply", "--yes")
    assert off_main.exit_code == 1
    assert "is not on main: only merged, reviewed commits are applied" in off_main.stderr
    repo.git.git.checkout("main")
    repo.write("so-tttt.yaml", unit_file([AN, BINH, CUONG, {"address": "x@quangngai.gov.vn"}]))
    dirty = cli("apply", "--yes")
    assert dirty.exit_code == 1
    assert "uncommitted changes (mailboxes/so-tttt.yaml)" in dirty.stderr and "--allow-dirty" in dirty.stderr
    assert backend.entry("hoapt@quangngai.gov.vn") is None and backend.entry("x@quangngai.gov.vn") is None
    assert "pwdendtime" not in backend.entry("binhtt@quangngai.gov.vn")
    experiment = cli("apply", "--yes", "--allow-dirty")
    assert experiment.exit_code == 0
    assert "from a local experiment on" in experiment.stdout
    assert len(list(repo.git.git.notes("--ref", "reconciler", "list").splitlines())) == 1  # no record for it


def test_merge_apply_history_and_report(flow):
    repo, _backend, origin, cli = flow
    first_commit = repo.git.head.commit.hexsha
    open_pr(repo)
    merge = merge_pr(repo)
    applied = cli("apply", "--yes", "--now", "2026-03-11T15:00:00+07:00")
    assert applied.exit_code == 0, applied.output
    (record,) = notes_in(origin, merge)
    assert {c["address"]: c["action"] for c in record["changes"]} == {"hoapt@quangngai.gov.vn": "create",
                                                                       "binhtt@quangngai.gov.vn": "disable"}

    history = json.loads(cli("history", "binhtt@quangngai.gov.vn", "--format", "json").stdout)["history"]
    assert [h["ticket"] for h in history] == ["10/QĐ-STTTT", "12/QĐ-STTTT"]
    created, disabled = history
    assert created["commit"] == first_commit
    assert created["applied"][0]["applied_at"] == "2026-03-02T10:00:00+07:00"
    assert disabled["author"] == "Lê Văn Soạn" and disabled["pr"] == "12"
    assert disabled["merged_by"] == "Võ Trưởng Phòng" and disabled["merged_at"].startswith("2026-03-11")
    assert {"field": "status", "old": "active", "new": "disabled"} in disabled["changes"]
    assert disabled["applied"] == [{"applied_at": "2026-03-11T15:00:00+07:00", "actor": disabled["applied"][0]["actor"],
                                    "run_url": None, "commit": merge, "action": "disable", "outcome": "ok",
                                    "error": None}]
    text = cli("history", "binhtt@quangngai.gov.vn")
    assert "— PR #12, merged by Võ Trưởng Phòng 11/03/2026 14:00 +07:00" in text.stdout
    assert "status: active → disabled" in text.stdout
    assert "applied 11/03/2026 15:00 +07:00" in text.stdout

    # Who had which mailbox on a date: before the merge Hoa had none, after it she had one.
    before = json.loads(cli("report", "--at", "2026-03-05", "--format", "json").stdout)
    after = json.loads(cli("report", "--at", "2026-03-12", "--since", "2026-03-01", "--format", "json").stdout)
    assert "hoapt@quangngai.gov.vn" not in {m["address"] for m in before["mailboxes"]}
    assert {m["address"]: m["status"] for m in after["mailboxes"]}["hoapt@quangngai.gov.vn"] == "active"
    assert {m["address"]: m["status"] for m in after["mailboxes"]}["binhtt@quangngai.gov.vn"] == "disabled"
    # Which accounts were disabled in the period, on which ticket, approved by whom.
    disabled_rows = [c for c in after["changes"] if c["status"] == ["active", "disabled"]]
    assert [(c["address"], c["ticket"], c["pr"], c["merged_by"], c["live_since"]) for c in disabled_rows] == [
        ("binhtt@quangngai.gov.vn", "12/QĐ-STTTT", "12", "Võ Trưởng Phòng", "2026-03-11T15:00:00+07:00")]
    assert after["units"] == [{"id": "so-tttt", "name": "Sở Thông tin và Truyền thông",
                               "counts": {"personal_active": 3, "personal_disabled": 1, "personal_removed": 0,
                                          "functional_active": 0, "functional_disabled": 0,
                                          "functional_removed": 0}}]
    md = cli("report", "--at", "2026-03-12", "--since", "2026-03-01").stdout
    assert "| `binhtt@quangngai.gov.vn` | active → disabled | 12/QĐ-STTTT | Lê Văn Soạn | #12 | Võ Trưởng Phòng" in md
    csv_rows = cli("report", "--at", merge[:12], "--format", "csv").stdout.splitlines()
    assert csv_rows[0].startswith("\ufeffunit,address,name,kind,owner")  # the BOM: Excel reads UTF-8
    assert len(csv_rows) == 5


def test_report_before_any_commit_is_one_line(flow):
    _repo, _backend, _origin, cli = flow
    result = cli("report", "--at", "2020-01-01")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: --at 2020-01-01: no commit exists on or before that day"
