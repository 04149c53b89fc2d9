"""The GitHub Actions workflows: actionlint (with shellcheck) over them, their shape, and the scripts
that keep the plan comment and the drift issue single (run with node against a fake GitHub API).

actionlint and shellcheck are required, not optional: the test command installs them (see
scripts/test), so a missing one fails here instead of skipping the lint silently.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from support.tools import (
    ACTIONLINT_INSTALL,
    GITHUB,
    NODE_INSTALL,
    REPO_ROOT,
    SCRIPTS,
    SHELLCHECK_INSTALL,
    WORKFLOWS,
    tool,
)

DIRECTORY_SECRETS = {"RECONCILER_LDAP_URL", "RECONCILER_BIND_DN", "RECONCILER_BIND_PASSWORD"}
WATCHED_PATHS = {"mailboxes/**", "reconciler.yaml", "schemas/**", "reconciler/**"}




def actionlint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [
        tool("actionlint", ACTIONLINT_INSTALL),
        "-no-color",
        "-oneline",
        f"-shellcheck={tool('shellcheck', SHELLCHECK_INSTALL)}",
        *args,
    ]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as the boolean true.
    on = workflow.get("on", workflow.get(True))
    return {on: None} if isinstance(on, str) else {name: None for name in on} if isinstance(on, list) else on


def only_job(workflow: dict) -> dict:
    jobs = workflow["jobs"]
    assert len(jobs) == 1, f"expected one job, found {sorted(jobs)}"
    return next(iter(jobs.values()))


def step_index(job: dict, predicate) -> int:
    matches = [i for i, step in enumerate(job["steps"]) if predicate(step)]
    assert matches, "no such step"
    return matches[0]


def run_contains(text: str):
    return lambda step: text in step.get("run", "")


def uses(action: str):
    return lambda step: step.get("uses", "").split("@")[0] == action


# --- actionlint ---------------------------------------------------------------------------------


def test_the_workflows_exist():
    names = {path.name for path in workflow_files()}
    assert {"plan.yml", "apply.yml", "drift.yml", "tests.yml"} <= names


def test_actionlint_finds_nothing_in_the_workflows():
    files = [str(path.relative_to(REPO_ROOT)) for path in workflow_files()]
    result = actionlint(*files, cwd=REPO_ROOT)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), result.stdout + result.stderr


def test_actionlint_and_its_shellcheck_integration_do_catch_mistakes(tmp_path):
    """Guards the test above: a linter that ran no check would pass every workflow."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "bad.yml").write_text(
        "on: push\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-latest\n"
        "    step:\n"  # should be `steps`
        "      - run: echo hi\n"
        "  lint:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: rm -rf $WORKDIR/build\n",  # unquoted: shellcheck SC2086
        encoding="utf-8",
    )
    result = actionlint(".github/workflows/bad.yml", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[syntax-check]" in result.stdout
    assert "SC2086" in result.stdout, "shellcheck did not run inside actionlint"


# --- the shape of each workflow -----------------------------------------------------------------


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_every_workflow_states_its_permissions_and_time_limits(path):
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert "permissions" in workflow, "default token permissions are too broad: state them"
    for name, job in workflow["jobs"].items():
        assert "timeout-minutes" in job, f"job {name} has no timeout-minutes"


def test_plan_runs_on_pull_requests_and_keeps_one_marked_comment():
    workflow = load("plan.yml")
    assert set(triggers(workflow)["pull_request"]["paths"]) >= WATCHED_PATHS
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert workflow["concurrency"] == {
        "group": "reconciler-plan-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }
    job = only_job(workflow)
    assert job["env"]["BASE"] == "origin/${{ github.base_ref }}"

    checkout = job["steps"][step_index(job, uses("actions/checkout"))]
    assert checkout["with"]["fetch-depth"] == 0
    notes = step_index(job, run_contains("git fetch --no-tags origin '+refs/notes/*:refs/notes/*'"))
    install = step_index(job, run_contains("pip install ."))
    validate = step_index(job, run_contains('reconciler validate --base "$BASE"'))
    plan = step_index(job, run_contains('reconciler plan --base "$BASE" --format markdown --out plan.json > plan.md'))
    comment = step_index(job, uses("actions/github-script"))
    artifact = step_index(job, uses("actions/upload-artifact"))
    assert notes < install < validate < plan < comment
    assert {f"${{{{ secrets.{name} }}}}" for name in DIRECTORY_SECRETS} == set(job["steps"][plan]["env"].values())
    ca = step_index(job, lambda step: step.get("env", {}).get("CA_PEM") == "${{ secrets.RECONCILER_CA_FILE }}")
    assert ca < plan and "RECONCILER_CA_FILE=" in job["steps"][ca]["run"]

    # The comment is written even when validation or the plan failed (never a stale plan), and
    # through the script whose marker keeps it single.
    assert job["steps"][comment]["if"] == "${{ !cancelled() }}"
    script = job["steps"][comment]["with"]["script"]
    assert "require('./.github/scripts/plan-comment.js')" in script
    assert "upsertPlanComment" in script
    assert "plan.json" in job["steps"][artifact]["with"]["path"]


def test_apply_never_overlaps_never_cancels_and_pushes_its_records():
    workflow = load("apply.yml")
    on = triggers(workflow)
    assert on["push"]["branches"] == ["main"]
    assert set(on["push"]["paths"]) >= WATCHED_PATHS
    assert "workflow_dispatch" in on
    assert workflow["permissions"] == {"contents": "write"}
    assert workflow["concurrency"] == {"group": "reconciler-apply", "cancel-in-progress": False, "queue": "max"}

    job = only_job(workflow)
    assert job["environment"] == "production"
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert job["steps"][step_index(job, uses("actions/checkout"))]["with"]["fetch-depth"] == 0
    notes = step_index(job, run_contains("git fetch --no-tags origin '+refs/notes/*:refs/notes/*'"))
    validate = step_index(job, run_contains("reconciler validate"))
    apply = step_index(job, run_contains("reconciler apply --yes"))
    push = step_index(job, run_contains("git push origin refs/notes/reconciler"))
    assert notes < validate < apply < push
    env = job["steps"][apply]["env"]
    assert {f"${{{{ secrets.{name} }}}}" for name in DIRECTORY_SECRETS} == {
        value for name, value in env.items() if name in DIRECTORY_SECRETS}
    # The records of a failed (partial) apply are pushed too.
    assert "!cancelled()" in job["steps"][push]["if"]


def test_apply_force_is_a_guarded_manual_input(tmp_path):
    """An approved large change is not stuck after merge: a person runs Apply by hand with force, from main,
    behind the production environment's approval; a push never forces."""
    workflow = load("apply.yml")
    force = triggers(workflow)["workflow_dispatch"]["inputs"]["force"]
    assert force["type"] == "boolean" and force["default"] is False
    job = only_job(workflow)
    assert job["environment"] == "production" and job["if"] == "github.ref == 'refs/heads/main'"
    step = job["steps"][step_index(job, run_contains("reconciler apply --yes"))]
    assert step["env"]["FORCE"] == "${{ github.event_name == 'workflow_dispatch' && inputs.force == true }}"
    # The step adds --force only when FORCE is exactly "true": run its shell with each value, apply faked.
    script = step["run"].replace("reconciler apply", "echo reconciler apply")
    for value, expected in (("true", "reconciler apply --yes --force"), ("false", "reconciler apply --yes"),
                            ("", "reconciler apply --yes")):
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                                check=False, timeout=30,
                                env={"PATH": os.environ["PATH"], "FORCE": value, "RUNNER_TEMP": str(tmp_path),
                                     "GITHUB_ACTOR": "truongphong", "RECONCILER_LDAP_URL": "ldaps://x",
                                     "RECONCILER_BIND_DN": "cn=x", "RECONCILER_BIND_PASSWORD": "x"})
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == expected


def test_drift_uses_the_detailed_exit_code_and_waits_for_applies():
    workflow = load("drift.yml")
    on = triggers(workflow)
    assert on["schedule"] and all("cron" in entry for entry in on["schedule"])
    assert "workflow_dispatch" in on
    assert workflow["permissions"] == {"contents": "read", "issues": "write"}
    assert workflow["concurrency"] == load("apply.yml")["concurrency"]

    job = only_job(workflow)
    plan = step_index(job, run_contains("reconciler plan --detailed-exitcode --format markdown"))
    issue = step_index(job, uses("actions/github-script"))
    assert plan < issue
    assert {f"${{{{ secrets.{name} }}}}" for name in DIRECTORY_SECRETS} == set(job["steps"][plan]["env"].values())
    assert "require('./.github/scripts/drift-issue.js')" in job["steps"][issue]["with"]["script"]
    assert job["steps"][issue]["env"]["EXIT_CODE"] == "${{ steps.plan.outputs.exit-code }}"


def test_scheduled_apply_carries_out_only_what_fell_due_and_never_beside_another_apply():
    workflow = load("removals.yml")
    on = triggers(workflow)
    assert on["schedule"] and all("cron" in entry for entry in on["schedule"])
    assert workflow["permissions"] == {"contents": "write"}
    assert workflow["concurrency"] == load("apply.yml")["concurrency"]

    job = only_job(workflow)
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert job["environment"] == "scheduled-apply"
    notes = step_index(job, run_contains("git fetch --no-tags origin '+refs/notes/*:refs/notes/*'"))
    apply = step_index(job, run_contains("reconciler apply --yes --scheduled"))
    push = step_index(job, run_contains("git push origin refs/notes/reconciler"))
    assert notes < apply < push
    assert {f"${{{{ secrets.{name} }}}}" for name in DIRECTORY_SECRETS} == set(job["steps"][apply]["env"].values())
    assert "!cancelled()" in job["steps"][push]["if"]


def test_tests_workflow_runs_the_projects_test_command():
    workflow = load("tests.yml")
    assert {"pull_request", "push"} <= set(triggers(workflow))
    job = only_job(workflow)
    assert job["runs-on"] == "ubuntu-latest"
    step_index(job, lambda step: step.get("run", "").strip() == "./scripts/test")


def test_codeowners():
    owners = {}
    for line in (GITHUB / "CODEOWNERS").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pattern, *teams = line.split()
            owners[pattern] = teams
    leads, maintainers = ["@quangngai-ttcntt/it-centre-leads"], ["@quangngai-ttcntt/maintainers"]
    assert owners["/mailboxes/"] == leads
    assert owners["/reconciler.yaml"] == leads
    assert owners["/.github/"] == leads
    assert owners["/schemas/"] == maintainers
    assert owners["/reconciler/"] == maintainers


# --- the github-script scripts, against a fake GitHub API ---------------------------------------

HARNESS = r"""
'use strict';
const assert = require('assert');
const [scripts, scenario] = process.argv.slice(2);
const plan = require(`${scripts}/plan-comment.js`);
const drift = require(`${scripts}/drift-issue.js`);

const bot = { login: 'github-actions[bot]', type: 'Bot' };
const human = { login: 'reviewer', type: 'User' };

function fakeGitHub(state) {
  let nextId = 1000;
  const calls = [];
  const record = (name, params) => calls.push([name, params]);
  const issues = {
    listComments: async ({ issue_number }) =>
      ({ data: state.comments.filter((c) => c.issue_number === issue_number) }),
    createComment: async (p) => {
      record('createComment', p);
      const comment = { id: nextId++, issue_number: p.issue_number, body: p.body, user: bot };
      state.comments.push(comment);
      return { data: comment };
    },
    updateComment: async (p) => {
      record('updateComment', p);
      const comment = state.comments.find((c) => c.id === p.comment_id);
      assert.ok(comment, `no comment ${p.comment_id}`);
      comment.body = p.body;
      return { data: comment };
    },
    deleteComment: async (p) => {
      record('deleteComment', p);
      state.comments = state.comments.filter((c) => c.id !== p.comment_id);
      return { data: {} };
    },
    listForRepo: async (p) => ({
      data: state.issues.filter((i) => i.state === p.state &&
        p.labels.split(',').every((name) => i.labels.some((l) => l.name === name))),
    }),
    create: async (p) => {
      record('create', p);
      const issue = { number: nextId++, title: p.title, body: p.body, state: 'open',
        labels: p.labels.map((name) => ({ name })) };
      state.issues.push(issue);
      return { data: issue };
    },
    update: async (p) => {
      record('update', p);
      const issue = state.issues.find((i) => i.number === p.issue_number);
      Object.assign(issue, ...['title', 'body', 'state'].filter((k) => k in p).map((k) => ({ [k]: p[k] })));
      return { data: issue };
    },
    getLabel: async (p) => {
      if (state.labels.includes(p.name)) return { data: { name: p.name } };
      const error = new Error('Not Found');
      error.status = 404;
      throw error;
    },
    createLabel: async (p) => { record('createLabel', p); state.labels.push(p.name); return { data: p }; },
  };
  return { calls, rest: { issues }, paginate: async (method, params) => (await method(params)).data };
}

const context = { repo: { owner: 'quangngai', repo: 'mailboxes' }, issue: { number: 7 } };
const core = { info() {}, warning() {} };
const named = (calls, name) => calls.filter(([n]) => n === name);

const scenarios = {
  async 'plan comment: created once, then edited in place'() {
    const state = { comments: [
      // A person quoting the marker is not the plan comment.
      { id: 1, issue_number: 7, user: human, body: `${plan.MARKER}\nmy own notes` },
      { id: 2, issue_number: 8, user: bot, body: `${plan.MARKER}\nthe plan of another pull request` },
    ] };
    const github = fakeGitHub(state);
    const first = plan.composeBody({ planOutcome: 'success', planMarkdown: '1 to create', base: 'origin/main',
      headSha: 'a'.repeat(40), runUrl: 'https://example.invalid/run/1' });
    assert.deepStrictEqual((await plan.upsertPlanComment({ github, context, core }, first)).action, 'created');
    const second = plan.composeBody({ planOutcome: 'success', planMarkdown: '2 to create', base: 'origin/main',
      headSha: 'b'.repeat(40), runUrl: 'https://example.invalid/run/2' });
    const result = await plan.upsertPlanComment({ github, context, core }, second);
    assert.strictEqual(result.action, 'updated');
    const ours = state.comments.filter((c) => c.issue_number === 7 && plan.isPlanComment(c));
    assert.strictEqual(ours.length, 1);
    assert.strictEqual(ours[0].body, second);
    assert.ok(ours[0].body.startsWith('<!-- reconciler-plan -->\n'));
    assert.strictEqual(state.comments.find((c) => c.id === 1).body, `${plan.MARKER}\nmy own notes`);
    assert.strictEqual(state.comments.find((c) => c.id === 2).body.includes('another'), true);
    assert.strictEqual(named(github.calls, 'createComment').length, 1);
  },

  async 'plan comment: duplicates are removed'() {
    const state = { comments: [
      { id: 1, issue_number: 7, user: bot, body: `${plan.MARKER}\nold` },
      { id: 2, issue_number: 7, user: bot, body: `${plan.MARKER}\nolder duplicate` },
    ] };
    const github = fakeGitHub(state);
    const body = plan.composeBody({ planOutcome: 'success', planMarkdown: 'x', base: 'origin/main',
      headSha: 'c'.repeat(40), runUrl: 'u' });
    const result = await plan.upsertPlanComment({ github, context, core }, body);
    assert.deepStrictEqual([result.id, result.deleted], [1, [2]]);
    assert.deepStrictEqual(state.comments.map((c) => c.body), [body]);
  },

  async 'plan comment: failures replace the plan, long plans are cut'() {
    const common = { base: 'origin/main', headSha: 'd'.repeat(40), runUrl: 'https://example.invalid/run/3' };
    const invalid = plan.composeBody({ ...common, validateOutcome: 'failure', planOutcome: 'skipped',
      validateOutput: 'mailboxes/so-tttt.yaml:4: address: uppercase\n```evil fence```' });
    assert.ok(invalid.startsWith(plan.MARKER));
    assert.match(invalid, /Validation failed/);
    assert.match(invalid, /\n````text\nmailboxes\/so-tttt\.yaml:4/);  // a fence longer than any inside
    const failed = plan.composeBody({ ...common, validateOutcome: 'success', planOutcome: 'failure',
      planErrors: 'error: cannot bind' });
    assert.match(failed, /could not be computed[\s\S]*cannot bind/);
    const early = plan.composeBody({ ...common, validateOutcome: 'skipped', planOutcome: 'skipped' });
    assert.match(early, /failed before it could plan/);
    const huge = plan.composeBody({ ...common, validateOutcome: 'success', planOutcome: 'success',
      planMarkdown: '```diff\n' + '+ a line of the plan\n'.repeat(20000) + '```\n' });
    assert.ok(huge.length < 65536, `${huge.length} characters`);
    assert.match(huge, /Cut here/);
    assert.strictEqual((huge.match(/^```/gm) || []).length % 2, 0, 'a code fence is left open');
  },

  async 'drift issue: opened, updated, closed'() {
    const state = { comments: [], issues: [
      { number: 3, title: 'Something else', body: '', state: 'open', labels: [{ name: 'bug' }] },
      { number: 4, title: 'Directory drift', body: 'old', state: 'closed', labels: [{ name: 'drift' }] },
    ], labels: [] };
    const github = fakeGitHub(state);
    const run = (exitCode, planMarkdown, n) => drift.syncDriftIssue({ github, context, core },
      { exitCode, planMarkdown, sha: 'e'.repeat(40), runUrl: `https://example.invalid/run/${n}`,
        checkedAt: `2026-11-0${n}T01:17:00Z` });

    const opened = await run('2', '1 to disable: annv@quangngai.gov.vn', 1);
    assert.strictEqual(opened.action, 'opened');
    assert.deepStrictEqual(state.labels, ['drift']);
    const issue = state.issues.find((i) => i.number === opened.number);
    assert.deepStrictEqual([issue.title, issue.labels, issue.state], ['Directory drift', [{ name: 'drift' }], 'open']);
    assert.match(issue.body, /annv@quangngai\.gov\.vn/);

    const same = await run('2', '1 to disable: annv@quangngai.gov.vn', 2);
    assert.deepStrictEqual([same.action, same.number, same.changed], ['updated', opened.number, false]);
    const changed = await run('2', '2 to disable', 3);
    assert.deepStrictEqual([changed.action, changed.changed], ['updated', true]);
    assert.strictEqual(state.issues.filter((i) => i.state === 'open' && i.title === 'Directory drift').length, 1);
    assert.strictEqual(named(github.calls, 'create').length, 1);
    assert.strictEqual(named(github.calls, 'createComment').length, 1);  // only for the change

    const closed = await run('0', '', 4);
    assert.deepStrictEqual([closed.action, closed.numbers], ['closed', [opened.number]]);
    assert.strictEqual(issue.state, 'closed');
    assert.match(named(github.calls, 'createComment').at(-1)[1].body, /No drift any more/);
    assert.strictEqual(state.issues.find((i) => i.number === 3).state, 'open');

    assert.strictEqual((await run('0', '', 5)).action, 'none');
    await assert.rejects(run('1', '', 6), /exited 1/);
    const reopened = await run('2', 'again', 7);
    assert.strictEqual(reopened.action, 'opened');
    assert.strictEqual(named(github.calls, 'createLabel').length, 1);
  },
};

const chosen = scenarios[scenario];
if (!chosen) throw new Error(`unknown scenario ${scenario}`);
chosen().then(() => console.log('ok'), (error) => { console.error(error); process.exit(1); });
"""

SCENARIOS = [
    "plan comment: created once, then edited in place",
    "plan comment: duplicates are removed",
    "plan comment: failures replace the plan, long plans are cut",
    "drift issue: opened, updated, closed",
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_github_script_behaviour(scenario, tmp_path):
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS, encoding="utf-8")
    node = tool("node", NODE_INSTALL)
    result = subprocess.run(
        [node, str(harness), str(SCRIPTS), scenario], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


def test_plan_comment_marker_is_the_documented_one():
    node = tool("node", NODE_INSTALL)
    script = "console.log(JSON.stringify(require(process.argv[1]).MARKER))"
    result = subprocess.run(
        [node, "-e", script, str(SCRIPTS / "plan-comment.js")], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == "<!-- reconciler-plan -->"
