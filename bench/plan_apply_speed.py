"""The README's "Figures": each figure of issue #14 beside its floor, measured in the same run.

Everything runs against throwaway slapd servers started by the test fixture (tests/support/slapd.py:
slapd 2.5, ppolicy, no fsync) and through the installed CLI, as a user or CI runs it: each run is a
new process, interpreter start included. Figure and floor alternate in every round (so that drift on
a shared machine hits both alike); each is the median of ``--runs`` rounds. A floor is the least the
same job takes with the C tools the project stands on, done the way the project does it:

* YAML floor: PyYAML's C loader (``CSafeLoader``) reading every unit file, in a fresh process with
  the cyclic GC paused (as validate does);
* read floor: ``ldapsearch -E pr=1000/noprompt`` of the same scope, filter and attributes as plan;
* write floor: ``ldapmodify -f`` of the very modifications apply sends (taken from the plan).

Rows (``--only`` picks some):

plan    ``--size`` mailboxes in ``--units`` files, 1 % of them changed, against slapd holding the
        declarations as they were before the change: ``reconciler plan --format json`` against
        ldapsearch + YAML floor; peak RSS per mailbox (``/usr/bin/time``).
drift   ``plan --detailed-exitcode`` with nothing changed at ``--drift-size`` mailboxes (the daily
        check), against ldapsearch + YAML floor.
base    ``validate --base BASE`` against plain ``validate`` of the same work tree, BASE being the
        commit before the change (a pull request's base).
apply   ``apply --yes`` of the same changes from the tip of main (apply record in git notes) into
        the ``--size``-entry directory, against YAML floor + ldapsearch + ldapmodify: every real apply
        reads the declarations and the directory before it writes. The directory is put back
        (untimed) after each run of either side.
ldif    one change applied to the embedded LDIF directory of ``--size`` entries: how many times
        the file is written.
sample  ``reconciler validate`` on the repository's own 381 sample mailboxes, against a fresh
        process loading the same files with the C loader.

The change: 1 % of the mailboxes (a third each: name, aliases, disabled), all in the first unit
files, as a pull request edits a few units. ``--ldap3`` adds plan through the pure-Python path.

    .venv/bin/python bench/plan_apply_speed.py [--size 100000] [--units 100] [--runs 3]
        [--drift-size 10000] [--only plan,drift,base,apply,ldif,sample] [--ldap3] [--durable] [--strict] [--keep DIR]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

import yaml  # noqa: E402
from support.slapd import Slapd, _tool, _tool_env, start_slapd  # noqa: E402
from validate_speed import DOMAIN, MIDDLE, TODAY, generate  # noqa: E402

from reconciler import settings as settings_file  # noqa: E402
from reconciler.audit.gitrepo import NOTES_REF  # noqa: E402
from reconciler.declarations.validation import validate  # noqa: E402
from reconciler.directory.base import Modify  # noqa: E402
from reconciler.directory.ldapserver import LdapDirectory  # noqa: E402
from reconciler.directory.profiles import openldap as profile  # noqa: E402
from reconciler.model import Desired  # noqa: E402
from reconciler.plan import apply as reconcile  # noqa: E402

NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 8, 0, tzinfo=UTC)
SEARCH_FILTER = f"(objectClass={profile.OBJECT_CLASS})"
ROWS = ("plan", "drift", "base", "apply", "ldif", "sample")

#: runs the CLI as the `reconciler` script does; "ldap3" first hides python-ldap, as if not installed;
#: "count-saves" also says on stderr how many times the LDIF directory wrote its file
LAUNCHER = """\
import sys
mode = sys.argv.pop(1)
if mode == "ldap3":
    sys.modules["ldap"] = None
if mode == "count-saves":
    import atexit
    from reconciler.directory.ldiffile import LdifDirectory
    saves, save = [], LdifDirectory._save
    def counted(self, entries):
        saves.append(1)
        save(self, entries)
    LdifDirectory._save = counted
    atexit.register(lambda: print(f"ldif-saves: {len(saves)}", file=sys.stderr))
sys.argv[0] = "reconciler"
from reconciler.cli import main
main()
"""

#: the YAML floor: the C loader over every file, in a fresh process, the collector paused as validate does
YAML_FLOOR = """\
import gc, sys, yaml
gc.disable()
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        yaml.load(f, Loader=yaml.CSafeLoader)
"""


# -- measuring ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    seconds: float
    max_rss_kib: int | None
    output: str
    stderr: str
    returncode: int


def run(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        stdout: int | None = subprocess.PIPE, ok: tuple[int, ...] = (0,)) -> Result:
    """Run to the end; wall seconds and peak RSS of the command itself (/usr/bin/time, when present).

    A child's peak RSS as wait4 reports it would include this (large) process, whose memory the
    child had before exec; /usr/bin/time is small, so what it reports is the command's own.
    """
    time_bin = shutil.which("time", path="/usr/bin:/bin")
    rss_file = None
    if time_bin:
        rss_file = tempfile.NamedTemporaryFile(prefix="rss-", delete=False)  # noqa: SIM115
        rss_file.close()
        argv = [time_bin, "-q", "-f", "%M", "-o", rss_file.name, *argv]
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - start
    output = (proc.stdout or b"").decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{output[-2000:]}\n{stderr[-2000:]}")
    rss = None
    if rss_file is not None:
        text = Path(rss_file.name).read_text().strip()
        os.unlink(rss_file.name)
        rss = int(text.splitlines()[-1]) if text and text.splitlines()[-1].isdigit() else None
    return Result(seconds, rss, output, stderr, proc.returncode)


def reconciler_cli(mode: str, *args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCHER, mode, *args]


def cli_env(server: Slapd | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "LDAP"))}
    env["RECONCILER_TEST_CLOCK"] = "1"  # the generated data's dates are relative to TODAY: --now pins it
    if server is not None:
        env |= {"RECONCILER_LDAP_URL": server.url, "RECONCILER_BIND_DN": server.admin_dn,
                "RECONCILER_BIND_PASSWORD": server.admin_password}
    return env


def admin_args(server: Slapd) -> list[str]:
    return ["-x", "-H", server.url, "-D", server.admin_dn, "-y", str(server.password_file)]


def search_argv(server: Slapd) -> list[str]:
    return [_tool("ldapsearch"), *admin_args(server), "-LLL", "-E", "pr=1000/noprompt", "-b", server.mailbox_base,
            "-s", "one", SEARCH_FILTER, *profile.READ_ATTRIBUTES]


def ldapsearch(server: Slapd) -> float:
    return run(search_argv(server), env=_tool_env(), stdout=subprocess.DEVNULL).seconds


def ldap_tool(server: Slapd, tool: str, ldif: Path) -> float:
    return run([_tool(tool), *admin_args(server), "-f", str(ldif)], env=_tool_env(),
               stdout=subprocess.DEVNULL).seconds


def yaml_floor(files: list[Path]) -> float:
    return run([sys.executable, "-c", YAML_FLOOR, *map(str, files)], stdout=subprocess.DEVNULL).seconds


@dataclass
class Series:
    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> float:
        self.values.append(value)
        return value

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def __str__(self) -> str:
        return f"{self.median:.2f} s (runs {' '.join(f'{v:.2f}' for v in self.values)})"


@dataclass(frozen=True)
class Row:
    figure: str
    measured: str
    floor: str
    ratio: float | None
    target: str
    met: bool | None


ROWS_OUT: list[Row] = []


def row(figure: str, measured: Series | str, floor: Series | str, target: float | str,
        ratio: float | None = None, met: bool | None = None) -> None:
    if ratio is None and isinstance(measured, Series) and isinstance(floor, Series):
        ratio = measured.median / floor.median
    if met is None and ratio is not None and isinstance(target, float):
        met = ratio <= target
    shown_target = f"≤ {target}×" if isinstance(target, float) else target
    line = Row(figure, f"{measured.median:.2f} s" if isinstance(measured, Series) else measured,
               f"{floor.median:.2f} s" if isinstance(floor, Series) else floor, ratio, shown_target, met)
    ROWS_OUT.append(line)
    print(f"-> {figure}: {measured} vs floor {floor}"
          + (f": {ratio:.2f}x" if ratio is not None else "") + f" (target {shown_target}: "
          + ("met" if met else "NOT met" if met is not None else "-") + ")", flush=True)


def table() -> str:
    lines = ["| figure | measured | floor | ratio | target |", "| --- | --- | --- | --- | --- |"]
    for r in ROWS_OUT:
        ratio = f"**{r.ratio:.2f}×**" if r.ratio is not None and r.met else \
            f"{r.ratio:.2f}×" if r.ratio is not None else "—"
        target = r.target + ("" if r.met is None else " (met)" if r.met else " (**not met**)")
        lines.append(f"| {r.figure} | {r.measured} | {r.floor} | {ratio} | {target} |")
    return "\n".join(lines)


# -- data --------------------------------------------------------------------------------------------


def desired_state(root: Path) -> Desired:
    result = validate(settings_file.load(root / "reconciler.yaml"), TODAY)
    if not result.ok:
        raise SystemExit("generated files do not validate:\n" + "\n".join(str(p) for p in result.problems[:20]))
    return result.desired


def unit_names(desired: Desired) -> dict[str, str]:
    """unit id -> the name the directory's `ou` carries (what people see in the address book)."""
    return {unit.id: unit.name for unit in desired.units}


_SAFE = re.compile(r"[\x01-\x09\x0b\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f][\x01-\x09\x0b\x0c\x0e-\x7f]*")


def _ldif_line(attr: str, value: str) -> str:
    """RFC 2849: a SAFE-STRING as is, anything else (UTF-8 names) base64, as ldapsearch writes it."""
    if _SAFE.fullmatch(value) and not value.endswith(" "):
        return f"{attr}: {value}"
    return f"{attr}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def write_ldif(path: Path, desired: Desired, base_dn: str) -> int:
    """The entries `reconciler apply` would create for ``desired``, in one LDIF file."""
    count = 0
    names = unit_names(desired)
    with path.open("w", encoding="ascii") as out:
        for mailbox in desired.mailboxes():
            if mailbox.status.value == "removed":
                continue
            add = profile.entry_for(mailbox, base_dn, now=NOW, unit_names=names)
            lines = [_ldif_line("dn", add.dn)]
            lines += [_ldif_line(attr, value) for attr, values in add.attrs.items() for value in values]
            out.write("\n".join(lines) + "\n\n")
            count += 1
    return count


def write_modify_ldif(path: Path, modifications: Iterable[Modify]) -> int:
    count = 0
    with path.open("w", encoding="ascii") as out:
        for op in modifications:
            lines = [_ldif_line("dn", op.dn), "changetype: modify"]
            for attr, values in op.replace.items():
                lines += [f"replace: {attr}", *(_ldif_line(attr, v) for v in values), "-"]
            out.write("\n".join(lines) + "\n\n")
            count += 1
    return count


def change_mailboxes(files: list[Path], count: int, seed: int) -> dict[str, int]:
    """Edit ``count`` declared (not removed) mailboxes in place, in as few of the first files as hold
    twice as many candidates: a third each name, aliases, status.

    Status changes disable active mailboxes whose owner is nobody's accountable custodian and that no
    mailbox forwards to; name changes rename a person whose name no functional mailbox repeats (and
    their owner line with it), so the files stay valid. Returns how many of each kind of change was
    made and in how many files.
    """
    rng = random.Random(seed)
    data = [yaml.load(p.read_bytes(), Loader=yaml.CSafeLoader) for p in files]
    custodians = {m["owner"]["id"] for d in data for m in d["mailboxes"]
                  if m["kind"] == "functional" and m["status"] == "active"}
    forwarded_to = {target for d in data for m in d["mailboxes"] for target in m.get("forward_to") or ()}
    candidates: list[tuple[int, int]] = []
    for f, d in enumerate(data):
        candidates += [(f, i) for i, m in enumerate(d["mailboxes"]) if m["status"] != "removed"]
        if len(candidates) >= 2 * count:
            break
    chosen = rng.sample(candidates, count)
    edits: dict[int, dict[int, str]] = {}
    made = {"name": 0, "aliases": 0, "status": 0}
    for n, (f, i) in enumerate(chosen):
        mailbox = data[f]["mailboxes"][i]
        wanted = ("name", "aliases", "status")[n % 3]
        if wanted == "status" and (mailbox["status"] != "active" or mailbox["address"] in forwarded_to or
                                   (mailbox["kind"] == "personal" and mailbox["owner"]["id"] in custodians)):
            wanted = "name"
        if wanted == "name" and mailbox["owner"]["id"] in custodians:
            wanted = "aliases"  # a custodian's name is repeated on the functional mailboxes they hold
        edits.setdefault(f, {})[i] = wanted
        made[wanted] += 1
    alias_number = 0
    for f, by_index in edits.items():
        lines = files[f].read_text(encoding="utf-8").split("\n")
        starts = [k for k, line in enumerate(lines) if line.startswith("  - address: ")]
        out: list[str] = []
        for index, start in enumerate(starts):
            end = starts[index + 1] if index + 1 < len(starts) else len(lines)
            if not out:
                out.extend(lines[:start])
            block = lines[start:end]
            what = by_index.get(index)
            if what == "name":
                k = next(k for k, line in enumerate(block) if line.startswith("    name: "))
                words = block[k].removeprefix("    name: ").split(" ")
                if len(words) >= 3 and words[1] in MIDDLE:
                    words[1] = rng.choice([m for m in MIDDLE if m != words[1]])
                else:
                    words.append("Mới")
                old_name = block[k].removeprefix("    name: ")
                block[k] = "    name: " + " ".join(words)
                owner = next(k for k, line in enumerate(block) if line.startswith("    owner: "))
                block[owner] = block[owner].replace(f"name: {old_name}}}", f"name: {' '.join(words)}}}")
            elif what == "aliases":
                alias_number += 1
                alias = f"bench.alias{alias_number}@{DOMAIN}"
                k = next((k for k, line in enumerate(block) if line.startswith("    aliases: [")), None)
                if k is None:
                    k = next(k for k, line in enumerate(block) if line.startswith("    status: "))
                    block.insert(k + 1, f"    aliases: [{alias}]")
                else:
                    block[k] = block[k].removesuffix("]") + f", {alias}]"
            elif what == "status":
                k = next(k for k, line in enumerate(block) if line.startswith("    status: "))
                block[k] = "    status: disabled"
            out.extend(block)
        files[f].write_text("\n".join(out), encoding="utf-8")
    made["files"] = len(edits)
    return made


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "-c", "user.name=bench", "-c", "user.email=bench@quangngai.gov.vn", "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def load_directory(server: Slapd, ldif: Path, expected: int) -> float:
    seconds = ldap_tool(server, "ldapadd", ldif)
    out = run([_tool("ldapsearch"), *admin_args(server), "-LLL", "-E", "pr=1000/noprompt", "-b",
               server.mailbox_base, "-s", "one", SEARCH_FILTER, "1.1"], env=_tool_env()).output
    found = out.count("\ndn: ") + out.startswith("dn: ")
    if found != expected:
        raise SystemExit(f"ldapadd loaded {found} of {expected} entries")
    return seconds


# -- the rows ----------------------------------------------------------------------------------------


@dataclass
class World:
    """The main data set: a git repository (base commit, then the change on main) and its slapd."""

    root: Path
    files: list[Path]
    base: str
    load_ldif: Path
    entries: int
    made: dict[str, int]
    server: Slapd


def build_world(args: argparse.Namespace, work: Path) -> World:
    root = work / "repo"
    started = time.perf_counter()
    files = generate(root, args.size, args.units, args.seed)
    git(root, "init", "-q", "-b", "main")
    base = commit_all(root, "mailboxes")
    ldif = work / "load.ldif"
    entries = write_ldif(ldif, desired_state(root), "ou=mailboxes,dc=quangngai,dc=gov,dc=vn")
    made = change_mailboxes(files, max(1, args.size // 100), args.seed)
    commit_all(root, "change 1% of the mailboxes")
    print(f"generated {args.size} mailboxes in {len(files)} unit files "
          f"({sum(p.stat().st_size for p in files) / 2**20:.1f} MiB) in {time.perf_counter() - started:.0f} s; "
          f"changed {made['name']} names, {made['aliases']} aliases, {made['status']} disabled "
          f"in {made['files']} files", flush=True)
    server = start_slapd(work / "slapd", durable=args.durable)
    seconds = load_directory(server, ldif, entries)
    print(f"loaded {entries} entries (all but the removed, as before the change) with ldapadd in {seconds:.0f} s",
          flush=True)
    return World(root, files, base, ldif, entries, made, server)


def bench_plan(args: argparse.Namespace, world: World) -> None:
    env = cli_env(world.server)
    argv = ("plan", "--format", "json", "--now", NOW.isoformat())
    modes = ["default", *(["ldap3"] if args.ldap3 else [])]
    summary = json.loads(run(reconciler_cli("default", *argv), cwd=world.root, env=env).output)["summary"]
    made = world.made
    expected = {"update": made["name"] + made["aliases"], "disable": made["status"]}
    if {k: summary[k] for k in expected} != expected or summary["create"] or summary["remove"]:
        raise SystemExit(f"unexpected plan summary {summary}, expected {expected}")
    search, loading = Series(), Series()
    plans = {mode: Series() for mode in modes}
    rss: list[int] = []
    for _ in range(args.runs):
        search.add(ldapsearch(world.server))
        loading.add(yaml_floor(world.files))
        for mode in modes:
            result = run(reconciler_cli(mode, *argv), cwd=world.root, env=env)
            plans[mode].add(result.seconds)
            if mode == "default" and result.max_rss_kib is not None:
                rss.append(result.max_rss_kib)
    floor = Series([s + y for s, y in zip(search.values, loading.values, strict=True)])
    print(f"   ldapsearch {search}; YAML floor {loading}", flush=True)
    size = f"{args.size:,}"
    row(f"`plan`: {size} mailboxes, 1 % changed", plans["default"], floor, 1.3)
    if args.ldap3:
        row("`plan`, same, pure-Python ldap3 path (python-ldap missing)", plans["ldap3"], floor, "—")
    if rss:
        per_mailbox = statistics.median(rss) / args.size
        row(f"peak memory of `plan` at {size} mailboxes", f"{per_mailbox:.2f} KiB per mailbox "
            f"({statistics.median(rss) / 1024:.0f} MiB)", "—", "≤ 2.5 KiB", met=per_mailbox <= 2.5)


def bench_base(args: argparse.Namespace, world: World) -> None:
    plain, based = Series(), Series()
    env = cli_env(None)
    for _ in range(args.runs):
        plain.add(run(reconciler_cli("default", "validate", "--today", TODAY.isoformat()), cwd=world.root,
                      env=env).seconds)
        based.add(run(reconciler_cli("default", "validate", "--base", world.base, "--today", TODAY.isoformat()),
                      cwd=world.root, env=env).seconds)
    row(f"`validate --base` ({world.made['files']} of {len(world.files)} files changed) vs `validate`",
        based, plain, 1.2)


def bench_apply(args: argparse.Namespace, world: World, work: Path) -> None:
    server = world.server
    env = cli_env(server)
    # The modifications apply will send, from the same plan computed here against the same server.
    os.environ.update({k: env[k] for k in ("RECONCILER_LDAP_URL", "RECONCILER_BIND_DN", "RECONCILER_BIND_PASSWORD")})
    settings = settings_file.with_environment(settings_file.load(world.root / "reconciler.yaml"))
    directory = LdapDirectory(settings.directory)
    computed = reconcile.compute(settings, directory, TODAY)
    desired = {m.address.lower(): m for m in computed.validation.desired.mailboxes()}
    names = unit_names(computed.validation.desired)
    before = {m.address.lower(): m for m in desired_state_at(world, work).mailboxes()}
    forward, backward = [], []
    for change in computed.plan.changes:
        key = change.address.lower()
        op = profile.operation_for(change, desired[key], computed.live[key], directory.base_dn, now=NOW,
                                   unit_names=names)
        assert isinstance(op, Modify), op
        forward.append(op)
        old = profile.entry_for(before[key], directory.base_dn, now=NOW, unit_names=names).attrs
        backward.append(Modify(op.dn, {attr: old.get(attr, []) for attr in op.replace}))
    directory.close()
    forward_ldif, backward_ldif = work / "forward.ldif", work / "backward.ldif"
    write_modify_ldif(forward_ldif, forward)
    write_modify_ldif(backward_ldif, backward)
    # pwdEndTime of entries disabled before the change is not touched: put back is exact for what changes.
    argv = ("apply", "--yes", "--now", NOW.isoformat())
    applies, floors = Series(), Series()
    for n in range(args.runs):
        git(world.root, "update-ref", "-d", f"refs/notes/{NOTES_REF}")
        result = run(reconciler_cli("default", *argv), cwd=world.root, env=env)
        if "Applied: " not in result.output or "failed" in result.stderr:
            raise SystemExit(f"unexpected apply output:\n{result.output[-2000:]}\n{result.stderr[-2000:]}")
        applies.add(result.seconds)
        ldap_tool(server, "ldapmodify", backward_ldif)
        floors.add(yaml_floor(world.files) + ldapsearch(server) + ldap_tool(server, "ldapmodify", forward_ldif))
        ldap_tool(server, "ldapmodify", backward_ldif)
        if n == 0:
            check = json.loads(run(reconciler_cli("default", "plan", "--format", "json", "--now", NOW.isoformat()),
                                   cwd=world.root, env=env).output)["summary"]
            if check["update"] + check["disable"] != len(forward):
                raise SystemExit(f"the directory was not put back after apply: {check}")
    row(f"`apply`: {len(forward):,} changes into {world.entries:,} entries", applies,
        floors, 1.3)


def desired_state_at(world: World, work: Path) -> Desired:
    """The declarations of the base commit (the directory was loaded from them)."""
    copy = work / "base-tree"
    if not copy.exists():
        git(world.root, "worktree", "add", "-q", "--detach", str(copy), world.base)
    return desired_state(copy)


def bench_drift(args: argparse.Namespace, work: Path) -> None:
    root = work / "drift-repo"
    units = max(1, round(args.units * args.drift_size / args.size))
    files = generate(root, args.drift_size, units, args.seed + 1)
    server = start_slapd(work / "drift-slapd")
    try:
        ldif = work / "drift.ldif"
        load_directory(server, ldif, write_ldif(ldif, desired_state(root), server.mailbox_base))
        env = cli_env(server)
        argv = reconciler_cli("default", "plan", "--detailed-exitcode", "--format", "json", "--now", NOW.isoformat())
        run(argv, cwd=root, env=env)  # exit 0: nothing changed
        plans, floor = Series(), Series()
        for _ in range(args.runs):
            floor.add(ldapsearch(server) + yaml_floor(files))
            plans.add(run(argv, cwd=root, env=env).seconds)
    finally:
        server.stop()
    row(f"`plan --detailed-exitcode`, no change, {args.drift_size:,} mailboxes", plans, floor, 1.5)


def bench_ldif(args: argparse.Namespace, world: World, work: Path) -> None:
    """One change into the embedded directory holding the ``--size`` entries: how often is the file written?"""
    root = work / "ldif-repo"
    if not root.exists():
        git(world.root, "worktree", "add", "-q", "--detach", str(root), world.base)
    (root / "var").mkdir(exist_ok=True)
    shutil.copyfile(world.load_ldif, root / "var" / "directory.ldif")
    change_mailboxes(sorted((root / "mailboxes").glob("*.yaml")), 1, args.seed)  # one name
    result = run(reconciler_cli("count-saves", "apply", "--yes", "--allow-dirty", "--now", NOW.isoformat()),
                 cwd=root, env=cli_env(None))
    if "Applied: 1 update" not in result.output:
        raise SystemExit(f"unexpected apply output:\n{result.output[-2000:]}\n{result.stderr[-2000:]}")
    saves = int(re.search(r"ldif-saves: (\d+)", result.stderr).group(1))  # type: ignore[union-attr]
    row(f"embedded LDIF directory: one change at {world.entries:,} entries", f"{saves} write(s) of the file "
        f"({result.seconds:.1f} s)", "1 write", "1 write", met=saves == 1)


def bench_sample(args: argparse.Namespace) -> None:
    files = sorted((ROOT / "mailboxes").glob("*.yaml"))
    argv = reconciler_cli("default", "validate")
    validates, floor = Series(), Series()
    for _ in range(max(5, 3 * args.runs)):
        validates.add(run(argv, cwd=ROOT, env=cli_env(None)).seconds)
        floor.add(yaml_floor(files))
    count = sum(len(yaml.load(p.read_bytes(), Loader=yaml.CSafeLoader)["mailboxes"]) for p in files)
    row(f"`reconciler validate`: the {count} sample mailboxes", validates, floor, "≤ 0.25 s",
        ratio=validates.median / floor.median, met=validates.median <= 0.25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000, help="mailboxes (default 100,000, the issue's size)")
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--drift-size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--only", default=",".join(ROWS), help=f"some of {','.join(ROWS)}")
    parser.add_argument("--ldap3", action="store_true", help="also plan through the pure-Python ldap3 path")
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    parser.add_argument("--durable", action="store_true",
                        help="slapd with fsync on (a production setting) instead of the test fixture's fsync off")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    if not only <= set(ROWS) or args.size < args.units or args.units < 1 or args.runs < 1:
        parser.error(f"need --only from {','.join(ROWS)}, --units >= 1, --size >= --units and --runs >= 1")
    try:
        import ldap
        fast = f"python-ldap {ldap.__version__}"
    except ImportError:
        fast = "python-ldap NOT installed (the default install has it)"
    import ldap3

    print(f"python {sys.version.split()[0]}, PyYAML {yaml.__version__} (libyaml {yaml.__with_libyaml__}), "
          f"ldap3 {ldap3.__version__}, {fast}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
          flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="plan-apply-speed-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if only & {"plan", "base", "apply", "ldif"}:
            world = build_world(args, work)
            try:
                if "plan" in only:
                    bench_plan(args, world)
                if "base" in only:
                    bench_base(args, world)
                if "apply" in only:
                    bench_apply(args, world, work)
            finally:
                world.server.stop()
            if "ldif" in only:
                bench_ldif(args, world, work)
        if "drift" in only:
            bench_drift(args, work)
        if "sample" in only:
            bench_sample(args)
    command = "bench/plan_apply_speed.py" + (f" --size {args.size}" if args.size != 100_000 else "")
    print(f"\n{table()}\n\n{args.runs} rounds, medians; `{command}` took {time.perf_counter() - started:.0f} s; "
          f"load average now {os.getloadavg()[0]:.1f}")
    return 1 if args.strict and any(r.met is False for r in ROWS_OUT) else 0


if __name__ == "__main__":
    sys.exit(main())
