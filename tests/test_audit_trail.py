"""Attribution and times an auditor can trust, in real git repositories with merge, squash and direct commits."""

from __future__ import annotations

import json
import textwrap

import pytest

from reconciler.audit.gitrepo import GitRepo
from reconciler.textfmt import md


def unit(unit_id: str, *entries: str) -> str:
    body = "".join(textwrap.dedent(e) for e in entries)
    return f"unit:\n  id: {unit_id}\n  name: Đơn vị {unit_id}\nmailboxes:\n{body}"


def person(address: str, name: str, owner: str, *, ticket: str = "1/QĐ", aliases: str = "") -> str:
    extra = f"    aliases: [{aliases}]\n" if aliases else ""
    return (f"  - address: {address}\n    name: {name}\n    kind: personal\n"
            f"    owner: {{id: {owner}, name: {name}}}\n    status: active\n    ticket: {ticket}\n{extra}")


AN = "annv@quangngai.gov.vn"
BINH = "binhtt@quangngai.gov.vn"
CUONG = "cuonglm@quangngai.gov.vn"


def commit_as(repo, message: str, *, date: str, author: str, committer: str) -> str:
    repo.git.git.add("-A")
    name, _, email = author.partition(" <")
    c_name, _, c_email = committer.partition(" <")
    with repo.git.git.custom_environment(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date, GIT_AUTHOR_NAME=name,
                                         GIT_AUTHOR_EMAIL=email.rstrip(">"), GIT_COMMITTER_NAME=c_name,
                                         GIT_COMMITTER_EMAIL=c_email.rstrip(">")):
        repo.git.git.commit("-m", message)
    return repo.git.head.commit.hexsha


@pytest.fixture
def audited(repo, run_cli):
    """main: a direct import (AN), then PR #7 (BINH, branched from the import) stays open while a squash merge
    (#8, CUONG) and a direct commit (AN's ticket) land; then PR #7 is merged with a merge commit."""
    repo.write("so-tttt.yaml", unit("so-tttt", person(AN, "Nguyễn Văn An", "QN-1", aliases="an@quangngai.gov.vn")))
    shas = {"import": commit_as(repo, "Khởi tạo danh sách hộp thư", date="2026-03-02T02:00:00Z",
                                author="Quản Trị <qt@quangngai.gov.vn>", committer="Quản Trị <qt@quangngai.gov.vn>")}
    repo.git.git.checkout("-b", "pr-7")
    repo.write("so-noi-vu.yaml", unit("so-noi-vu", person(BINH, "Trần Thị Bình", "QN-2", ticket="7/QĐ")))
    shas["pr7"] = commit_as(repo, "Thêm hộp thư Trần Thị Bình", date="2026-03-03T01:00:00Z",
                            author="Lê Văn Soạn <soanlv@quangngai.gov.vn>",
                            committer="Lê Văn Soạn <soanlv@quangngai.gov.vn>")
    repo.git.git.checkout("main")
    repo.write("so-yte.yaml", unit("so-yte", person(CUONG, "Lê Minh Cường", "QN-3", ticket="8/QĐ")))
    shas["squash"] = commit_as(repo, "Thêm hộp thư Lê Minh Cường (#8)", date="2026-03-04T03:30:00Z",
                               author="Phạm Thị Đề Xuất <dexuat@quangngai.gov.vn>",
                               committer="Võ Người Duyệt <duyet@quangngai.gov.vn>")
    repo.write("so-tttt.yaml", unit("so-tttt", person(AN, "Nguyễn Văn An", "QN-1", ticket="2/QĐ",
                                                      aliases="an@quangngai.gov.vn")))
    shas["direct"] = commit_as(repo, "Sửa số phiếu", date="2026-03-05T04:00:00Z",
                               author="Quản Trị <qt@quangngai.gov.vn>", committer="Quản Trị <qt@quangngai.gov.vn>")
    with repo.git.git.custom_environment(GIT_AUTHOR_DATE="2026-03-06T08:00:00Z",
                                         GIT_COMMITTER_DATE="2026-03-06T08:00:00Z",
                                         GIT_AUTHOR_NAME="Võ Trưởng Phòng",
                                         GIT_AUTHOR_EMAIL="truongphong@quangngai.gov.vn"):
        repo.git.git.merge("--no-ff", "pr-7", "-m", "Merge pull request #7 from quangngai/pr-7")
    shas["merge"] = repo.git.head.commit.hexsha

    def cli(*args: str):
        return run_cli(*args, cwd=repo.root)

    return repo, shas, cli


def history_json(cli, address: str) -> dict:
    result = cli("history", address, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_direct_commits_are_not_credited_to_a_later_unrelated_pull_request(audited):
    _repo, shas, cli = audited
    entries = history_json(cli, AN)["history"]
    assert [(e["commit"], e["attribution"], e["pr"], e["merged_by"], e["merged_at"]) for e in entries] == [
        (shas["import"], "direct", None, None, None),
        (shas["direct"], "direct", None, None, None),
    ]
    text = cli("history", AN).stdout
    assert text.count("— committed directly to main (no pull request)") == 2
    assert "#7" not in text and "Võ Trưởng Phòng" not in text


def test_a_squash_merge_is_credited_to_its_pull_request_with_its_own_date_and_committer(audited):
    _repo, shas, cli = audited
    (entry,) = history_json(cli, CUONG)["history"]
    assert (entry["commit"], entry["attribution"], entry["pr"]) == (shas["squash"], "squash", "8")
    assert entry["author"] == "Phạm Thị Đề Xuất"
    assert entry["merged_by"] == "Võ Người Duyệt"
    assert entry["merged_at"] == "2026-03-04T10:30:00+07:00"
    assert "— PR #8, squash-merged by Võ Người Duyệt 04/03/2026 10:30 +07:00" in cli("history", CUONG).stdout


def test_a_merge_commit_is_credited_only_for_what_it_brought_in(audited):
    repo, shas, cli = audited
    (entry,) = history_json(cli, BINH)["history"]
    assert (entry["commit"], entry["attribution"], entry["pr"]) == (shas["pr7"], "merge", "7")
    assert entry["merged_by"] == "Võ Trưởng Phòng" and entry["merged_at"] == "2026-03-06T15:00:00+07:00"
    git = GitRepo(repo.root)
    assert git.merged_by(git.commit(shas["import"])) is None
    assert git.merged_by(git.commit(shas["squash"])) is None
    assert git.merged_by(git.commit(shas["pr7"])).sha == shas["merge"]


def test_report_names_the_same_attribution(audited):
    _repo, shas, cli = audited
    report = json.loads(cli("report", "--since", "2026-03-01", "--format", "json").stdout)
    rows = {(c["address"], c["commit"]): (c["attribution"], c["pr"], c["merged_by"]) for c in report["changes"]}
    assert rows[(AN, shas["import"])] == ("direct", None, None)
    assert rows[(CUONG, shas["squash"])] == ("squash", "8", "Võ Người Duyệt")
    assert rows[(BINH, shas["pr7"])] == ("merge", "7", "Võ Trưởng Phòng")
    markdown = cli("report", "--since", "2026-03-01").stdout
    assert md("committed directly to main (no pull request)") in markdown
    assert "| 04/03/2026 10:30 +07:00 | `cuonglm@quangngai.gov.vn` |" in markdown


def test_times_are_in_the_timezone_setting_with_their_offset(audited):
    repo, _shas, cli = audited
    entry = history_json(cli, AN)["history"][0]
    assert entry["date"] == "2026-03-02T09:00:00+07:00"  # committed 02:00 UTC
    assert cli("history", AN).stdout.splitlines()[1].startswith("02/03/2026 09:00 +07:00 ")
    config = repo.config.read_text(encoding="utf-8")
    repo.config.write_text(config + "timezone: Europe/Paris\n", encoding="utf-8")
    assert history_json(cli, AN)["history"][0]["date"] == "2026-03-02T03:00:00+01:00"


def test_a_clone_without_the_apply_records_says_so_and_how_to_fetch_them(audited):
    repo, shas, cli = audited
    text = cli("history", AN).stdout
    assert ("this clone has no apply records (refs/notes/reconciler): whether changes reached the directory is "
            "unknown here; fetch them with: git fetch origin 'refs/notes/*:refs/notes/*'") in text
    assert "not yet applied" not in text
    assert history_json(cli, AN)["apply_records_fetched"] is False
    report = cli("report", "--since", "2026-03-01").stdout
    assert "git fetch origin 'refs/notes/*:refs/notes/*'" in report

    # Once the records are there, a change no record mentions is really not applied yet.
    record = {"format_version": 1, "kind": "apply", "commit": shas["import"], "applied_at": "2026-03-02T10:00:00+07:00",
              "actor": "ci", "run_url": None, "directory": "ldif", "changes": [
                  {"action": "create", "address": AN, "unit": "so-tttt", "fields": [], "outcome": "ok"}]}
    GitRepo(repo.root).add_note(shas["import"], json.dumps(record))
    text = cli("history", AN).stdout
    assert "this clone has no apply records" not in text
    assert "applied 02/03/2026 10:00 +07:00 by ci: create" in text
    assert history_json(cli, AN)["apply_records_fetched"] is True


def test_history_accepts_an_alias(audited):
    _repo, _shas, cli = audited
    result = cli("history", "an@quangngai.gov.vn")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"an@quangngai.gov.vn is an alias of {AN}")
    data = history_json(cli, "an@quangngai.gov.vn")
    assert data["address"] == AN and data["alias"] == "an@quangngai.gov.vn" and len(data["history"]) == 2
