// The review pull request: one open pull request from the branch that `reconciler review --propose`
// writes (.github/workflows/review.yml), opened by the first quarterly review with findings and
// updated (title and body) by the next ones while it stays open. Called through actions/github-script.
'use strict';

const { MAX_BODY, truncate } = require('./markdown.js');

const MARKER = '<!-- reconciler-review -->';

function composeBody({ reviewMarkdown, runUrl }) {
  const review = truncate(reviewMarkdown.trim() || '_The review is empty._', MAX_BODY,
    `The whole review is in reviews/ on this branch and in the log of the [review run](${runUrl}).`);
  return [
    MARKER,
    review,
    '',
    `Made by the [quarterly review](${runUrl}). Mailboxes listed under "Disabled in this proposal" are set ` +
      'to `status: disabled` in this branch; take out any that must stay and say why. The other findings ' +
      'need a person: they are not changed here.',
    '',
  ].join('\n');
}

async function openPullRequests(github, owner, repo, branch) {
  return github.paginate(github.rest.pulls.list,
    { owner, repo, state: 'open', head: `${owner}:${branch}`, per_page: 100 });
}

async function syncReviewPullRequest({ github, context, core }, { branch, base, title, reviewMarkdown, runUrl }) {
  const { owner, repo } = context.repo;
  const body = composeBody({ reviewMarkdown, runUrl });
  const open = await openPullRequests(github, owner, repo, branch);
  if (open.length === 0) {
    const { data } = await github.rest.pulls.create({ owner, repo, head: branch, base, title, body });
    core.warning(`review findings: opened pull request #${data.number}`);
    return { action: 'opened', number: data.number };
  }
  const pull = open[0];
  await github.rest.pulls.update({ owner, repo, pull_number: pull.number, title, body });
  core.warning(`review findings: updated pull request #${pull.number}`);
  return { action: 'updated', number: pull.number };
}

module.exports = { MARKER, composeBody, syncReviewPullRequest };
