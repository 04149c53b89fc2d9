"""SIGINT and SIGTERM during apply, in a real subprocess against a real slapd, on both client libraries.

The first signal stops the apply cleanly: nothing more is sent, the answers in flight are collected,
the lock is released, the apply record in git says what was confirmed (and nothing else), and the
process exits 1 with one line saying the directory was partly changed and how to finish. A second
signal ends it at once. The signal is sent once the first mailboxes have reached the directory, in
the middle of a batch of thousands.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import ldap3
import pytest
from support.slapd import MAILBOX_BASE, Slapd

from reconciler.directory.base import LOCK_CN

#: enough that the signal lands mid-write: python-ldap writes several thousand entries a second, ldap3 fewer
MAILBOXES = {"python-ldap": 4000, "ldap3": 1500}
REPO_ROOT = Path(__file__).resolve().parent.parent
#: runs the CLI; with "ldap3" first, as if python-ldap were not installed
HARNESS = """
import sys
client = sys.argv.pop(1)
if client == "ldap3":
    import reconciler.directory.ldapserver as ldapserver
    ldapserver.python_ldap_available = lambda: False
from reconciler.cli import main
main()
"""


def big_unit(n: int) -> str:
    lines = ["unit:", "  id: so-tttt", "  name: Sở Thông tin và Truyền thông", "mailboxes:"]
    for i in range(n):
        lines += [f"  - address: u{i:05d}@quangngai.gov.vn", f"    name: Nguyễn Văn An {i}", "    kind: personal",
                  f"    owner: {{id: QN-{i:05d}, name: Nguyễn Văn An}}", "    status: active"]
    return "\n".join(lines) + "\n"


def configure(repo, server: Slapd, mailboxes: int) -> dict[str, str]:
    text = repo.config.read_text(encoding="utf-8").replace("url: ldif:var/directory.ldif",
                                                           f"url: {server.url.rstrip('/')}")
    repo.config.write_text(text, encoding="utf-8")
    repo.write("so-tttt.yaml", big_unit(mailboxes))
    repo.commit("Thêm hộp thư")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONCILER_")}
    env.update({"RECONCILER_BIND_DN": server.admin_dn, "RECONCILER_BIND_PASSWORD": server.admin_password,
                "PYTHONPATH": str(REPO_ROOT)})
    return env


def start_apply(repo, env: dict[str, str], client: str) -> subprocess.Popen[str]:
    # The plan (thousands of lines) goes to a file: a full pipe nobody reads would stall the apply.
    with (repo.root.parent / "apply.out").open("w") as out:
        return subprocess.Popen([sys.executable, "-c", HARNESS, client, "apply", "--yes"], cwd=repo.root, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the apply did not end after the signal")
    return "", stderr


def mailbox_count(server: Slapd) -> int:
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=server.port, get_info=ldap3.NONE),
                            server.admin_dn, server.admin_password, auto_bind=True)
    try:
        conn.search(MAILBOX_BASE, "(objectClass=inetOrgPerson)", search_scope=ldap3.LEVEL, attributes=["1.1"],
                    paged_size=None)
        return len(conn.entries)
    finally:
        conn.unbind()


def first_writes_arrived(server: Slapd, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=server.port, get_info=ldap3.NONE),
                            server.admin_dn, server.admin_password, auto_bind=True)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            conn.search(MAILBOX_BASE, "(objectClass=inetOrgPerson)", search_scope=ldap3.LEVEL, attributes=["1.1"],
                        size_limit=1)
            if conn.entries:
                return
            time.sleep(0.005)
        pytest.fail("the apply never started writing")
    finally:
        conn.unbind()


def lock_held(server: Slapd) -> bool:
    return f"cn={LOCK_CN}" in server.ldapsearch(MAILBOX_BASE, scope="one", attrs=["1.1"])


def apply_record(repo) -> dict:
    (line,) = repo.git.git.notes("--ref", "reconciler", "show", "HEAD").splitlines()
    return json.loads(line)


@pytest.mark.parametrize("client", ["python-ldap", "ldap3"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_apply_stops_cleanly_and_records_what_was_done(repo, slapd, client, signum):
    total = MAILBOXES[client]
    env = configure(repo, slapd, total)
    proc = start_apply(repo, env, client)
    first_writes_arrived(slapd, proc)
    proc.send_signal(signum)
    stdout, stderr = finished(proc, 60)  # no deadlock: it ends on its own
    stdout = (repo.root.parent / "apply.out").read_text()
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stdout + stderr and slapd.admin_password not in stdout + stderr
    (line,) = stderr.splitlines()
    name = signal.Signals(signum).name
    assert line.startswith(f"error: interrupted ({name}): the directory was partly changed ("), line
    assert "run `reconciler apply` again to finish" in line
    assert not lock_held(slapd), "the lock was left behind"

    live = mailbox_count(slapd)
    assert 0 < live < total, live  # the signal landed mid-write
    record = apply_record(repo)
    outcomes = [c["outcome"] for c in record["changes"]]
    assert len(outcomes) == total
    assert outcomes.count("ok") == live  # what was confirmed, exactly what reached the directory
    # Nothing failed, nothing unknown. (Should a signal still cut a write short, its outcome must have
    # been re-read: a failure that was not verified would be a guess.)
    assert all(c["outcome"] in ("ok", "not-sent") or c.get("verified") == "reread" for c in record["changes"]), \
        [c for c in record["changes"] if c["outcome"] not in ("ok", "not-sent")][:3]
    assert f"({live} of {total} change(s) applied and recorded)" in line

    rerun = subprocess.run([sys.executable, "-c", HARNESS, client, "apply", "--yes"], cwd=repo.root, env=env,
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert mailbox_count(slapd) == total


def test_a_second_signal_ends_the_apply_at_once(repo, slapd):
    env = configure(repo, slapd, MAILBOXES["python-ldap"])
    proc = start_apply(repo, env, "python-ldap")
    first_writes_arrived(slapd, proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.01)  # two signals at the same instant reach Python's handler as one
    proc.send_signal(signal.SIGINT)
    _, stderr = finished(proc, 30)
    stdout = (repo.root.parent / "apply.out").read_text()
    assert proc.returncode == 1
    assert "Traceback" not in stdout + stderr
    assert "SIGINT again: stopped at once" in stderr
