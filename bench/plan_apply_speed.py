"""How fast are `reconciler plan` and `reconciler apply` against a real slapd? (issue #3)

Everything runs against throwaway slapd servers started by the test fixture (tests/support/slapd.py:
slapd 2.5, ppolicy, 1 GiB mdb map, no fsync). Each figure is printed beside its baseline, measured in
the same run, as medians of ``--runs`` runs, alternating the two so that drift hits both alike.

plan (target: within 2x of the baseline, peak RSS under 1 GiB)
    ``--mailboxes`` mailboxes in ``--units`` unit files (bench/validate_speed.py's generator), loaded
    into slapd with ``ldapadd`` from an LDIF made by the openldap profile (``entry_for``); then 1% of
    the mailboxes are changed in YAML (a third each: name, aliases, status) and

    * ``reconciler plan --format json`` runs as a subprocess: the whole CLI, interpreter start
      included, its output read through a pipe; peak RSS from ``/usr/bin/time``;
    * the baseline is ``ldapsearch -x -LLL -E pr=1000/noprompt`` of the same scope, filter and
      attributes, as the same admin, to /dev/null, PLUS ``yaml.load(f, CSafeLoader)`` of the same
      files, timed in this process.

apply (target: within 1.25x of the baseline)
    ``--creates`` new mailboxes (in ``--units`` * creates / mailboxes files, none of them removed)
    and an empty directory; a fresh slapd for every single run of either side:

    * ``reconciler apply --yes`` as a subprocess (plan, lock, writes, apply record), run as CI runs
      it: from the tip of main in a git repository, so the record goes to git notes; ``--no-git``
      applies from a plain folder with ``--allow-dirty`` instead (no record);
    * the baseline is ``ldapadd -f`` of the same entries from one LDIF file.

Both read paths are measured when python-ldap is installed: ``python-ldap`` (the default then) and
``ldap3`` (python-ldap hidden from the CLI process, as if it were not installed).

    .venv/bin/python bench/plan_apply_speed.py [--mailboxes 100000] [--units 100] [--runs 3]
                                               [--creates 10000] [--only plan|apply] [--no-git]
                                               [--paths both|python-ldap|ldap3] [--keep DIR]
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
from reconciler.directory.profiles import openldap as profile  # noqa: E402

NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 8, 0, tzinfo=UTC)
# The generated data's expiry dates are relative to TODAY: the CLI's --now pins its clock to it.
os.environ["RECONCILER_TEST_CLOCK"] = "1"
SEARCH_FILTER = f"(objectClass={profile.OBJECT_CLASS})"

#: runs the CLI as the `reconciler` script does; "ldap3" first hides python-ldap, as if not installed
LAUNCHER = """\
import sys
if sys.argv.pop(1) == "ldap3":
    sys.modules["ldap"] = None
sys.argv[0] = "reconciler"
from reconciler.cli import main
main()
"""

PATH_NAMES = ("python-ldap", "ldap3")


# -- data ------------------------------------------------------------------------------------------


def desired_mailboxes(root: Path) -> list:
    result = validate(settings_file.load(root / "reconciler.yaml"), TODAY)
    if not result.ok:
        raise SystemExit("generated files do not validate:\n" + "\n".join(str(p) for p in result.problems[:20]))
    return result.desired.mailboxes()


_SAFE = re.compile(r"[\x01-\x09\x0b\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f][\x01-\x09\x0b\x0c\x0e-\x7f]*")


def _ldif_line(attr: str, value: str) -> str:
    """RFC 2849: a SAFE-STRING as is, anything else (UTF-8 names) base64, as ldapsearch writes it."""
    if _SAFE.fullmatch(value) and not value.endswith(" "):
        return f"{attr}: {value}"
    return f"{attr}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def write_ldif(path: Path, mailboxes: Iterable, base_dn: str) -> int:
    """The entries `reconciler apply` would create for ``mailboxes``, in one LDIF file."""
    count = 0
    with path.open("w", encoding="ascii") as out:
        for mailbox in mailboxes:
            if mailbox.status.value == "removed":
                continue
            add = profile.entry_for(mailbox, base_dn, now=NOW)
            lines = [_ldif_line("dn", add.dn)]
            lines += [_ldif_line(attr, value) for attr, values in add.attrs.items() for value in values]
            out.write("\n".join(lines) + "\n\n")
            count += 1
    return count


def change_mailboxes(files: list[Path], count: int, seed: int) -> dict[str, int]:
    """Edit ``count`` declared (not removed) mailboxes in place: a third each name, aliases, status.

    Status changes disable active mailboxes whose owner is nobody's accountable custodian, so the
    files stay valid. Returns how many of each kind of change was made.
    """
    rng = random.Random(seed)
    data = [yaml.load(p.read_bytes(), Loader=yaml.CSafeLoader) for p in files]
    custodians = {m["owner"]["id"] for d in data for m in d["mailboxes"]
                  if m["kind"] == "functional" and m["status"] == "active"}
    candidates = [(f, i) for f, d in enumerate(data) for i, m in enumerate(d["mailboxes"]) if m["status"] != "removed"]
    chosen = rng.sample(candidates, count)
    edits: dict[int, dict[int, str]] = {}
    made = {"name": 0, "aliases": 0, "status": 0}
    for n, (f, i) in enumerate(chosen):
        mailbox = data[f]["mailboxes"][i]
        wanted = ("name", "aliases", "status")[n % 3]
        if wanted == "status" and (mailbox["status"] != "active" or
                                   (mailbox["kind"] == "personal" and mailbox["owner"]["id"] in custodians)):
            wanted = "name"
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
                block[k] = "    name: " + " ".join(words)
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
    return made


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def make_apply_repo(root: Path, creates: int, units: int, seed: int, *, use_git: bool) -> list[Path]:
    """A git repository whose main branch declares ``creates`` mailboxes, as CI applies it."""
    files = generate(root, creates, units, seed)
    for path in files:  # every declared mailbox is a create: none is a tombstone
        path.write_text(path.read_text(encoding="utf-8").replace("    status: removed", "    status: disabled"),
                        encoding="utf-8")
    if not use_git:
        return files
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=bench", "-c", "user.email=bench@quangngai.gov.vn", "commit", "-q", "-m", "mailboxes")
    return files


# -- measuring ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    seconds: float
    max_rss_kib: int | None
    output: str


def run(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        stdout: int | None = subprocess.PIPE) -> Result:
    """Run to the end; wall seconds and peak RSS of the command itself (/usr/bin/time, when present).

    A child's peak RSS as wait4 reports it would include this (large) process, whose memory the
    child had before exec; /usr/bin/time is small, so what it reports is the command's own.
    """
    time_bin = shutil.which("time", path="/usr/bin:/bin")
    rss_file = None
    if time_bin and stdout is not subprocess.DEVNULL:
        rss_file = tempfile.NamedTemporaryFile(prefix="rss-", delete=False)  # noqa: SIM115
        rss_file.close()
        argv = [time_bin, "-q", "-f", "%M", "-o", rss_file.name, *argv]
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - start
    output = (proc.stdout or b"").decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{output[-2000:]}\n"
                         f"{proc.stderr.decode('utf-8', 'replace')[-2000:]}")
    rss = None
    if rss_file is not None:
        text = Path(rss_file.name).read_text().strip()
        os.unlink(rss_file.name)
        rss = int(text.splitlines()[-1]) if text else None
    return Result(seconds, rss, output)


def reconciler_cli(path: str, *args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCHER, path, *args]


def cli_env(server: Slapd) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECONCILER_", "LDAP"))}
    env |= {"RECONCILER_TEST_CLOCK": "1",  # the generated data's dates are relative to TODAY: --now pins it
            "RECONCILER_LDAP_URL": server.url, "RECONCILER_BIND_DN": server.admin_dn,
            "RECONCILER_BIND_PASSWORD": server.admin_password}
    return env


def admin_args(server: Slapd) -> list[str]:
    return ["-x", "-H", server.url, "-D", server.admin_dn, "-y", str(server.password_file)]


def ldapadd_file(server: Slapd, ldif: Path) -> float:
    return run([_tool("ldapadd"), *admin_args(server), "-f", str(ldif)], env=_tool_env(),
               stdout=subprocess.DEVNULL).seconds


def count_entries(server: Slapd) -> int:
    out = run([_tool("ldapsearch"), *admin_args(server), "-LLL", "-E", "pr=1000/noprompt", "-b", server.mailbox_base,
               "-s", "one", SEARCH_FILTER, "1.1"], env=_tool_env()).output
    return out.count("\ndn: ") + out.startswith("dn: ")


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
        return f"median {self.median:6.2f} s   runs: {' '.join(f'{v:.2f}' for v in self.values)}"


def python_ldap_version() -> str | None:
    try:
        import ldap
    except ImportError:
        return None
    return f"python-ldap {ldap.__version__}"


def mib(kib: int | None) -> str:
    return "?" if kib is None else f"{kib / 1024:.0f} MiB"


def verdict(ratio: float, target: float) -> str:
    return f"target {target}x: {'met' if ratio <= target else 'NOT met'}"


# -- plan --------------------------------------------------------------------------------------------


def bench_plan(args: argparse.Namespace, work: Path, paths: list[str]) -> None:
    root = work / "plan-repo"
    files = generate(root, args.mailboxes, args.units, args.seed)
    print(f"\n== plan: {args.mailboxes} mailboxes in {len(files)} unit files "
          f"({sum(p.stat().st_size for p in files) / 2**20:.1f} MiB)")
    server = start_slapd(work / "plan-slapd")
    try:
        ldif = work / "plan-load.ldif"
        entries = write_ldif(ldif, desired_mailboxes(root), server.mailbox_base)
        seconds = ldapadd_file(server, ldif)
        loaded = count_entries(server)
        if loaded != entries:
            raise SystemExit(f"ldapadd loaded {loaded} of {entries} entries")
        print(f"loaded {entries} entries (all but the removed) with ldapadd -f in {seconds:.1f} s")
        changes = max(1, args.mailboxes // 100)
        made = change_mailboxes(files, changes, args.seed)
        print(f"changed {changes} mailboxes in YAML: {made['name']} names, {made['aliases']} aliases, "
              f"{made['status']} disabled")
        env = cli_env(server)
        plan_argv = ("plan", "--format", "json", "--now", NOW.isoformat())

        def plan(path: str) -> Result:
            return run(reconciler_cli(path, *plan_argv), cwd=root, env=env)

        search_argv = [_tool("ldapsearch"), *admin_args(server), "-LLL", "-E", f"pr={1000}/noprompt",
                       "-b", server.mailbox_base, "-s", "one", SEARCH_FILTER, *profile.READ_ATTRIBUTES]

        def load_yaml() -> float:
            start = time.perf_counter()
            for path in files:
                with path.open("rb") as f:
                    yaml.load(f, Loader=yaml.CSafeLoader)
            return time.perf_counter() - start

        # Warm-up (file cache, slapd's entry cache) and a check of what the plan says.
        summary = json.loads(plan(paths[0]).output)["summary"]
        expected = {"update": made["name"] + made["aliases"], "disable": made["status"]}
        if {k: summary[k] for k in expected} != expected or summary["create"] or summary["remove"]:
            raise SystemExit(f"unexpected plan summary {summary}, expected {expected}")
        print(f"plan summary: {summary}")
        run(search_argv, env=_tool_env(), stdout=subprocess.DEVNULL)
        load_yaml()

        search, loading = Series(), Series()
        plans = {path: Series() for path in paths}
        rss: dict[str, list[int]] = {path: [] for path in paths}
        for _ in range(args.runs):
            search.add(run(search_argv, env=_tool_env(), stdout=subprocess.DEVNULL).seconds)
            loading.add(load_yaml())
            for path in paths:
                result = plan(path)
                plans[path].add(result.seconds)
                if result.max_rss_kib is not None:
                    rss[path].append(result.max_rss_kib)
    finally:
        server.stop()
    baseline = statistics.median(s + y for s, y in zip(search.values, loading.values, strict=True))
    print(f"baseline ldapsearch -E pr=1000/noprompt   {search}")
    print(f"baseline yaml CSafeLoader (in-process)    {loading}")
    print(f"baseline total                            median {baseline:6.2f} s")
    for path in paths:
        ratio = plans[path].median / baseline
        print(f"reconciler plan --format json [{path:<11}] {plans[path]}   ratio {ratio:.2f}x "
              f"({verdict(ratio, 2.0)}), peak RSS {mib(max(rss[path], default=None))}")


# -- apply -------------------------------------------------------------------------------------------


def bench_apply(args: argparse.Namespace, work: Path, paths: list[str]) -> None:
    units = max(1, round(args.units * args.creates / args.mailboxes))
    root = work / "apply-repo"
    make_apply_repo(root, args.creates, units, args.seed + 1, use_git=not args.no_git)
    ldif = work / "apply.ldif"
    entries = write_ldif(ldif, desired_mailboxes(root), "ou=mailboxes,dc=quangngai,dc=gov,dc=vn")
    if entries != args.creates:
        raise SystemExit(f"{entries} entries to create, expected {args.creates}")
    sync = "fsync on" if args.durable else "fsync off"
    source = ("from a plain folder (--allow-dirty, no record)" if args.no_git else
              "from the tip of main in a git repository (record in git notes)")
    print(f"\n== apply: {args.creates} creates from {units} unit files into an empty directory, "
          f"a fresh slapd for every run ({sync}), {source}")
    servers = 0

    def fresh() -> Slapd:
        nonlocal servers
        servers += 1
        return start_slapd(work / f"apply-slapd-{servers}", durable=args.durable)

    def done(server: Slapd) -> None:
        found = count_entries(server)
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
        if found != args.creates:
            raise SystemExit(f"{found} entries in the directory after the run, expected {args.creates}")

    apply_argv = ("apply", "--yes", "--now", NOW.isoformat(), *(("--allow-dirty",) if args.no_git else ()))
    ldapadd = Series()
    applies = {path: Series() for path in paths}
    rss: dict[str, list[int]] = {path: [] for path in paths}
    for n in range(args.runs + 1):  # the first round warms the file cache and is not counted
        server = fresh()
        seconds = ldapadd_file(server, ldif)
        done(server)
        if n:
            ldapadd.add(seconds)
        for path in paths:
            server = fresh()
            # Each apply appends its record to a git note on the commit: start every run from none.
            if not args.no_git:
                git(root, "update-ref", "-d", f"refs/notes/{NOTES_REF}")
            result = run(reconciler_cli(path, *apply_argv), cwd=root, env=cli_env(server))
            done(server)
            if f"Applied: {args.creates} create " not in result.output:
                raise SystemExit(f"unexpected apply output:\n{result.output[-2000:]}")
            if n:
                applies[path].add(result.seconds)
                if result.max_rss_kib is not None:
                    rss[path].append(result.max_rss_kib)
    print(f"baseline ldapadd -f (one LDIF file)       {ldapadd}")
    for path in paths:
        ratio = applies[path].median / ldapadd.median
        print(f"reconciler apply --yes [{path:<11}]       {applies[path]}   ratio {ratio:.2f}x "
              f"({verdict(ratio, 1.25)}), peak RSS {mib(max(rss[path], default=None))}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mailboxes", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--creates", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--only", choices=("plan", "apply"), help="run one of the two benchmarks")
    parser.add_argument("--paths", choices=("both", *PATH_NAMES), default="both",
                        help="python-ldap, ldap3 or both (default: both when python-ldap is installed)")
    parser.add_argument("--no-git", action="store_true",
                        help="apply from a plain folder with --allow-dirty: no apply record in git notes")
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it")
    parser.add_argument("--durable", action="store_true",
                        help="apply against slapd with fsync on (a production setting) instead of the test "
                             "fixture's fsync off")
    args = parser.parse_args(argv)
    if args.mailboxes < args.units or args.units < 1 or args.runs < 1 or args.creates < 1:
        parser.error("need --units >= 1, --mailboxes >= --units, --runs >= 1 and --creates >= 1")

    installed = python_ldap_version()
    paths = [args.paths] if args.paths != "both" else list(PATH_NAMES) if installed else ["ldap3"]
    if "python-ldap" in paths and not installed:
        parser.error("python-ldap is not installed: pip install 'python-ldap>=3.4'")
    import ldap3

    print(f"python {sys.version.split()[0]}, PyYAML {yaml.__version__} (libyaml {yaml.__with_libyaml__}), "
          f"ldap3 {ldap3.__version__}, {installed or 'python-ldap not installed'}; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("paths measured: " + ", ".join(
        f"{p} ({'python-ldap reads and writes' if p == 'python-ldap' else 'ldap3 reads and writes'})"
        for p in paths))
    with tempfile.TemporaryDirectory(prefix="plan-apply-speed-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.only in (None, "plan"):
            bench_plan(args, work, paths)
        if args.only in (None, "apply"):
            bench_apply(args, work, paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
