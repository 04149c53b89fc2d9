"""Apply records tell the truth after faults: slapd is killed in the middle of an apply and restarted.

The writes whose answers were lost are re-read: the record says "ok" for each that reached the
directory and marks it ``"verified": "reread"``; ``history`` shows it as applied; a re-run plans
only what is really missing and converges.
"""

from __future__ import annotations

import json
import threading
import time

import ldap3
from support.slapd import MAILBOX_BASE, Slapd

#: enough that the kill lands mid-write with either client library
MAILBOXES = {"python-ldap": 3000, "ldap3": 1200}


def big_unit(n: int) -> str:
    lines = ["unit:", "  id: so-tttt", "  name: Sở Thông tin và Truyền thông", "mailboxes:"]
    for i in range(n):
        lines += [f"  - address: u{i:05d}@quangngai.gov.vn", f"    name: Nguyễn Văn An {i}", "    kind: personal",
                  f"    owner: {{id: QN-{i:05d}, name: Nguyễn Văn An}}", "    status: active"]
    return "\n".join(lines) + "\n"


def live_addresses(server: Slapd) -> set[str]:
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=server.port, get_info=ldap3.NONE),
                            server.admin_dn, server.admin_password, auto_bind=True)
    try:
        conn.search(MAILBOX_BASE, "(objectClass=inetOrgPerson)", search_scope=ldap3.LEVEL, attributes=["mail"])
        return {str(e.mail) for e in conn.entries}
    finally:
        conn.unbind()


class KillMidway(threading.Thread):
    """Kills slapd (SIGKILL) once the apply's first mailboxes are in, then starts it again."""

    def __init__(self, server: Slapd) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.killed_at: float | None = None
        self.restarted = threading.Event()
        #: slapd is started through setpriv --pdeathsig: it ends with the thread that started it, so this
        #: thread lives until the test is done with the server
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=self.server.port, get_info=ldap3.NONE),
                                    self.server.admin_dn, self.server.admin_password, auto_bind=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                conn.search(MAILBOX_BASE, "(objectClass=inetOrgPerson)", search_scope=ldap3.LEVEL,
                            attributes=["1.1"], size_limit=1)
                if conn.entries:
                    break
                time.sleep(0.002)
            self.server.kill()
            self.killed_at = time.monotonic()
            time.sleep(0.5)
            self.server.start_again()
        except BaseException as err:  # reported by the test
            self.error = err
        finally:
            self.restarted.set()
        self.done.wait(300)


def test_a_server_killed_mid_apply_is_re_read_and_recorded_truthfully(repo, slapd, run_cli, client):
    text = repo.config.read_text(encoding="utf-8").replace("url: ldif:var/directory.ldif",
                                                           f"url: {slapd.url.rstrip('/')}")
    repo.config.write_text(text, encoding="utf-8")
    repo.write("so-tttt.yaml", big_unit(MAILBOXES[client]))
    repo.commit("Thêm hộp thư")
    env = {"RECONCILER_BIND_DN": slapd.admin_dn, "RECONCILER_BIND_PASSWORD": slapd.admin_password}

    killer = KillMidway(slapd)
    killer.start()
    try:
        result = run_cli("apply", "--yes", cwd=repo.root, env=env)
        assert killer.restarted.wait(30)
        assert killer.error is None and killer.killed_at is not None
        check(repo, slapd, run_cli, env, result, MAILBOXES[client])
    finally:
        killer.done.set()
        slapd.stop()
        killer.join(10)


def check(repo, slapd, run_cli, env, result, total: int) -> None:
    assert "Traceback" not in result.output

    live = live_addresses(slapd)
    assert 0 < len(live) < total, len(live)  # the kill landed mid-write
    (line,) = repo.git.git.notes("--ref", "reconciler", "show", "HEAD").splitlines()
    changes = json.loads(line)["changes"]
    assert len(changes) == total
    ok = {c["address"] for c in changes if c["outcome"] == "ok"}
    assert ok == live  # every change that reached the directory, and only those, is recorded as applied
    reread = [c for c in changes if c.get("verified") == "reread"]
    assert reread, "no outcome was lost with the connection: the kill came too late"
    assert {c["outcome"] for c in changes} <= {"ok", "failed"}  # nothing left unknown: the server came back
    assert result.exit_code == 1 and "change(s) failed" in result.stderr

    confirmed = next((c["address"] for c in reread if c["outcome"] == "ok"), None)
    if confirmed is not None:
        history = run_cli("history", confirmed, cwd=repo.root)
        assert history.exit_code == 0, history.output
        assert "applied" in history.stdout and "confirmed by re-reading the directory" in history.stdout

    rerun = run_cli("apply", "--yes", cwd=repo.root, env=env)
    assert rerun.exit_code == 0, rerun.output
    assert len(live_addresses(slapd)) == total
    notes = [json.loads(n) for n in repo.git.git.notes("--ref", "reconciler", "show", "HEAD").splitlines() if n]
    again = notes[-1]["changes"]
    assert {c["address"] for c in again} == {c["address"] for c in changes} - ok  # only what was missing
    plan = run_cli("plan", "--format", "json", cwd=repo.root, env=env)
    assert json.loads(plan.stdout)["changes"] == []
