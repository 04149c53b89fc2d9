// The drift issue: one open issue titled "Directory drift", labelled `drift`, that the daily drift
// check (.github/workflows/drift.yml) opens or updates while `reconciler plan --detailed-exitcode`
// exits 2, and closes with a comment once it exits 0. Called through actions/github-script.
'use strict';

const { MAX_BODY, truncate } = require('./markdown.js');

const TITLE = 'Directory drift';
const LABEL = 'drift';
const MARKER = '<!-- reconciler-drift -->';
const PLAN_START = '<!-- drift-plan:start -->';
const PLAN_END = '<!-- drift-plan:end -->';

function composeBody({ planMarkdown, sha, runUrl, checkedAt }) {
  const plan = truncate(planMarkdown.trim() || '_The plan is empty._', MAX_BODY,
    `The whole plan is in the log of the [drift check](${runUrl}).`);
  return [
    MARKER,
    `The live mail directory differs from what \`main\` declares (commit \`${String(sha).slice(0, 12)}\`), ` +
      `as found by the [drift check](${runUrl}) on ${checkedAt}.`,
    '',
    'Either the directory was changed by hand, or a merged change has not been applied yet (for example an ' +
      'apply still waiting for approval in the `production` environment). Bring them together by declaring ' +
      'the change in a pull request, or by running the Apply workflow. This issue is updated by every drift ' +
      'check and closed by the first one that finds no drift.',
    '',
    PLAN_START,
    plan,
    PLAN_END,
    '',
  ].join('\n');
}

function planSection(body) {
  const text = String(body || '');
  const start = text.indexOf(PLAN_START);
  const end = text.indexOf(PLAN_END);
  return start >= 0 && end > start ? text.slice(start + PLAN_START.length, end).trim() : null;
}

async function ensureLabel(github, owner, repo) {
  try {
    await github.rest.issues.getLabel({ owner, repo, name: LABEL });
  } catch (error) {
    if (error.status !== 404) throw error;
    await github.rest.issues.createLabel({
      owner, repo, name: LABEL, color: 'd93f0b',
      description: 'The live mail directory differs from the declarations',
    });
  }
}

async function openDriftIssues(github, owner, repo) {
  const issues = await github.paginate(github.rest.issues.listForRepo,
    { owner, repo, state: 'open', labels: LABEL, sort: 'created', direction: 'asc', per_page: 100 });
  return issues.filter((issue) => !issue.pull_request);
}

// exitCode: what `reconciler plan --detailed-exitcode` exited with (0 no drift, 2 drift).
async function syncDriftIssue({ github, context, core }, { exitCode, planMarkdown, sha, runUrl, checkedAt }) {
  const code = Number(exitCode);
  if (code !== 0 && code !== 2) {
    throw new Error(`reconciler plan exited ${exitCode}: no drift report; see the log of the plan step`);
  }
  const { owner, repo } = context.repo;
  const open = await openDriftIssues(github, owner, repo);

  if (code === 0) {
    for (const issue of open) {
      await github.rest.issues.createComment({
        owner, repo, issue_number: issue.number,
        body: `No drift any more: the directory matches \`main\` (commit \`${String(sha).slice(0, 12)}\`) ` +
          `according to the [drift check](${runUrl}) on ${checkedAt}. Closing.`,
      });
      await github.rest.issues.update({
        owner, repo, issue_number: issue.number, state: 'closed', state_reason: 'completed',
      });
      core.info(`closed drift issue #${issue.number}`);
    }
    return { action: open.length ? 'closed' : 'none', numbers: open.map((issue) => issue.number) };
  }

  const body = composeBody({ planMarkdown, sha, runUrl, checkedAt });
  if (open.length === 0) {
    await ensureLabel(github, owner, repo);
    const { data } = await github.rest.issues.create({ owner, repo, title: TITLE, body, labels: [LABEL] });
    core.warning(`directory drift: opened issue #${data.number}`);
    return { action: 'opened', number: data.number };
  }
  // The oldest open one is THE drift issue; editing it notifies nobody, so say so when the drift changed.
  const issue = open[0];
  const changed = planSection(issue.body) !== planSection(body);
  await github.rest.issues.update({ owner, repo, issue_number: issue.number, title: TITLE, body });
  if (changed) {
    await github.rest.issues.createComment({
      owner, repo, issue_number: issue.number,
      body: `The drift changed: the description now shows the [drift check](${runUrl}) of ${checkedAt}.`,
    });
  }
  core.warning(`directory drift: updated issue #${issue.number}`);
  return { action: 'updated', number: issue.number, changed };
}

module.exports = { TITLE, LABEL, MARKER, composeBody, planSection, syncDriftIssue };
