"""Shared fixtures: a throw-away reconciler repository and a CLI runner."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import git
import pytest
from typer.testing import CliRunner

from reconciler import i18n
from reconciler.cli import app

REPO_ROOT = Path(__file__).resolve().parent.parent

SETTINGS = """\
domains: [quangngai.gov.vn]
mailboxes_dir: mailboxes
directory:
  url: ldif:var/directory.ldif
  base_dn: ou=mailboxes,dc=quangngai,dc=gov,dc=vn
policy:
  public_mail_domains: [gmail.com, yahoo.com, yahoo.com.vn, hotmail.com]
  removal_grace_days: 30
  max_disable_fraction: 0.10
  threshold_min_existing: 20
language: en
"""


class Repo:
    """A reconciler repository (a git work tree on branch main) in a temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "mailboxes").mkdir(parents=True)
        (root / "reconciler.yaml").write_text(SETTINGS, encoding="utf-8")
        (root / ".gitignore").write_text("/var/\n", encoding="utf-8")
        self.git = git.Repo.init(root, initial_branch="main")
        with self.git.config_writer() as config:
            config.set_value("user", "name", "Trần Thị Kiểm Thử")
            config.set_value("user", "email", "kiemthu@quangngai.gov.vn")

    def commit(self, message: str = "Cập nhật hộp thư", *, author: str | None = None,
               date: str | None = None) -> str:
        """Commit everything (like a merged pull request); returns the sha. ``date``: ISO 8601."""
        self.git.git.add("-A")
        env = {}
        if date:
            env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        args = ["--allow-empty", "-m", message]
        if author:
            args += ["--author", author]
        with self.git.git.custom_environment(**env):
            self.git.git.commit(*args)
        return self.git.head.commit.hexsha

    @property
    def config(self) -> Path:
        return self.root / "reconciler.yaml"

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.root / "mailboxes" / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path


@pytest.fixture(autouse=True)
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite asserts English text unless a test asks for Vietnamese (--lang vi, language: vi, LANG=vi_VN)."""
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    i18n.use("en")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """Invoke the CLI in-process from a given folder; returns the click Result."""

    monkeypatch.setenv("RECONCILER_TEST_CLOCK", "1")  # allows the hidden --now option

    def run(*args: str, cwd: Path | None = None, input: str | None = None, env: dict | None = None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        return CliRunner().invoke(app, list(args), input=input, env=env, catch_exceptions=False)

    return run


@pytest.fixture
def slapd(tmp_path_factory: pytest.TempPathFactory):
    """A fresh, real slapd (ppolicy, olcLastBind) on a free loopback port; stopped afterwards."""
    from support.slapd import start_slapd

    server = start_slapd(tmp_path_factory.mktemp("slapd") / "server")
    yield server
    server.stop()


@pytest.fixture(params=["ldif", "slapd"])
def backend(request: pytest.FixtureRequest, repo: Repo, tmp_path_factory: pytest.TempPathFactory):
    """Each reconciliation scenario runs against the embedded LDIF file and against a real slapd."""
    from support.backends import Backend
    from support.slapd import start_slapd

    if request.param == "ldif":
        chosen = Backend("ldif", repo.root)
    else:
        server = start_slapd(tmp_path_factory.mktemp("slapd") / "server")
        request.addfinalizer(server.stop)
        chosen = Backend("slapd", repo.root, server, {
            "RECONCILER_BIND_DN": server.admin_dn, "RECONCILER_BIND_PASSWORD": server.admin_password})
    chosen.configure(repo.config)
    return chosen


@pytest.fixture(params=["python-ldap", "ldap3"])
def client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both LDAP client libraries: the CLI picks python-ldap when it can import it; pretending it cannot
    makes it use ldap3."""
    from reconciler.directory import ldapserver

    if request.param == "ldap3":
        monkeypatch.setattr(ldapserver, "python_ldap_available", lambda: False)
    return str(request.param)


@pytest.fixture
def ldif(repo: Repo):
    """The test repository pointed at the embedded LDIF directory (its entries under var/)."""
    from support.backends import Backend

    backend = Backend("ldif", repo.root)
    backend.configure(repo.config)
    return backend
