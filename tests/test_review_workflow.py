"""The quarterly review workflow (.github/workflows/review.yml) and its script that keeps one review pull
request (.github/scripts/review-pr.js, run with node against a fake GitHub API). actionlint checks
review.yml with every other workflow in tests/test_workflows.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from support.tools import NODE_INSTALL, SCRIPTS, WORKFLOWS, tool


def test_review_runs_quarterly_and_on_demand_and_proposes_on_one_branch():
    workflow = yaml.safe_load((WORKFLOWS / "review.yml").read_text(encoding="utf-8"))
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"] == [{"cron": "23 1 2 1,4,7,10 *"}]
    assert "workflow_dispatch" in triggers
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write"}
    steps = workflow["jobs"]["review"]["steps"]
    run = next(s for s in steps if s.get("id") == "review")["run"]
    assert 'reconciler review --format markdown --propose "$BRANCH"' in run
    assert "2) " in run and 'git push --force origin "refs/heads/$BRANCH:refs/heads/$BRANCH"' in run
    sync = steps[-1]
    assert sync["if"] == "steps.review.outputs.exit-code == '2'"
    assert "review-pr.js" in sync["with"]["script"]


HARNESS = r"""
'use strict';
const assert = require('assert');
const review = require(`${process.argv[2]}/review-pr.js`);
const state = { pulls: [
  { number: 5, head: 'someone:reconciler/review', state: 'open', title: 'a fork', body: '' },
  { number: 6, head: 'quangngai:other', state: 'open', title: 'other', body: '' },
] };
const calls = [];
const pulls = {
  list: async (p) => ({ data: state.pulls.filter((x) => x.state === p.state && x.head === p.head) }),
  create: async (p) => {
    calls.push(['create', p]);
    const pull = { number: 100 + state.pulls.length, head: `quangngai:${p.head}`, state: 'open', title: p.title,
      body: p.body };
    state.pulls.push(pull);
    return { data: pull };
  },
  update: async (p) => {
    calls.push(['update', p]);
    Object.assign(state.pulls.find((x) => x.number === p.pull_number), { title: p.title, body: p.body });
    return { data: {} };
  },
};
const github = { rest: { pulls }, paginate: async (method, params) => (await method(params)).data };
const context = { repo: { owner: 'quangngai', repo: 'mailboxes' } };
const core = { warning() {} };
const run = (markdown, title) => review.syncReviewPullRequest({ github, context, core },
  { branch: 'reconciler/review', base: 'main', title, reviewMarkdown: markdown, runUrl: 'https://example.invalid/r' });
(async () => {
  const first = await run('# Review\n| `a@quangngai.gov.vn` | idle |', 'Review (rà soát) of 2026-12-01');
  assert.strictEqual(first.action, 'opened');
  const second = await run('# Review\n| `b@quangngai.gov.vn` | idle |', 'Review (rà soát) of 2027-03-01');
  assert.deepStrictEqual([second.action, second.number], ['updated', first.number]);
  const ours = state.pulls.filter((x) => x.head === 'quangngai:reconciler/review');
  assert.strictEqual(ours.length, 1);
  assert.ok(ours[0].body.startsWith(review.MARKER));
  assert.match(ours[0].body, /b@quangngai\.gov\.vn/);
  assert.strictEqual(ours[0].title, 'Review (rà soát) of 2027-03-01');
  assert.strictEqual(state.pulls.find((x) => x.number === 5).title, 'a fork');
  const huge = review.composeBody({ reviewMarkdown: '| row |\n'.repeat(20000), runUrl: 'u' });
  assert.ok(huge.length < 65536 && /Cut here/.test(huge));
  assert.deepStrictEqual(calls.map(([name]) => name), ['create', 'update']);
})().then(() => console.log('ok'), (error) => { console.error(error); process.exit(1); });
"""


def test_review_pull_request_is_opened_once_then_updated(tmp_path: Path):
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS, encoding="utf-8")
    result = subprocess.run([tool("node", NODE_INSTALL), str(harness), str(SCRIPTS)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr
