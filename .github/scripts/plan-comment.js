// The pull request's plan comment: exactly one comment per pull request, found again by the hidden
// marker on its first line, created on the first run and edited in place afterwards. Called from
// .github/workflows/plan.yml through actions/github-script.
'use strict';

const fs = require('fs');
const { MAX_BODY, fence, truncate } = require('./markdown.js');

const MARKER = '<!-- reconciler-plan -->';

function readIfExists(path) {
  return fs.existsSync(path) ? fs.readFileSync(path, 'utf8') : '';
}

// The comment's text, from the outcomes of the workflow's validate and plan steps and what they wrote.
function composeBody({ validateOutcome, validateOutput, planOutcome, planMarkdown, planErrors, base, headSha, runUrl }) {
  const commit = headSha ? `\`${headSha.slice(0, 12)}\`` : 'this pull request';
  const lines = [MARKER, '## Reconciler plan', '',
    `For ${commit} merged into \`${base}\` · [workflow run](${runUrl})`, ''];
  if (planOutcome === 'success') {
    lines.push(truncate(planMarkdown.trim() || '_The plan is empty._', MAX_BODY,
      `The whole plan (Markdown and JSON) is in the artifacts of the [workflow run](${runUrl}).`));
  } else if (validateOutcome === 'failure') {
    lines.push('**Validation failed.** Fix these problems; the plan follows once the declarations are valid.', '',
      truncate(fence(validateOutput.trim() || '(no output)'), MAX_BODY, `See the [workflow run](${runUrl}).`));
  } else if (planOutcome === 'failure') {
    lines.push('**The plan could not be computed** (`reconciler plan` failed):', '',
      truncate(fence(planErrors.trim() || '(no output)'), MAX_BODY, `See the [workflow run](${runUrl}).`));
  } else {
    lines.push(`**No plan:** the workflow failed before it could plan; see the [workflow run](${runUrl}).`);
  }
  lines.push('', '<sub>Updated on every push to this pull request. Applied by CI after the merge.</sub>', '');
  return lines.join('\n');
}

function composeFromFiles({ validateOutcome, planOutcome, base, headSha, runUrl, dir = '.' }) {
  return composeBody({
    validateOutcome,
    validateOutput: readIfExists(`${dir}/validate.txt`),
    planOutcome,
    planMarkdown: readIfExists(`${dir}/plan.md`),
    planErrors: readIfExists(`${dir}/plan.err`),
    base,
    headSha,
    runUrl,
  });
}

function isPlanComment(comment) {
  return Boolean(comment.user && comment.user.type === 'Bot' &&
    typeof comment.body === 'string' && comment.body.startsWith(MARKER));
}

// Create the plan comment or edit the existing one; delete duplicates (left by an interrupted run)
// so that the pull request shows one plan.
async function upsertPlanComment({ github, context, core }, body) {
  if (!body.startsWith(MARKER)) throw new Error('the plan comment must start with its marker');
  const { owner, repo } = context.repo;
  const issue_number = context.issue.number;
  const comments = await github.paginate(github.rest.issues.listComments,
    { owner, repo, issue_number, per_page: 100 });
  const ours = comments.filter(isPlanComment);
  if (ours.length === 0) {
    const { data } = await github.rest.issues.createComment({ owner, repo, issue_number, body });
    core.info(`created the plan comment ${data.html_url || data.id}`);
    return { action: 'created', id: data.id };
  }
  const [keep, ...duplicates] = ours;
  await github.rest.issues.updateComment({ owner, repo, comment_id: keep.id, body });
  for (const duplicate of duplicates) {
    await github.rest.issues.deleteComment({ owner, repo, comment_id: duplicate.id });
  }
  core.info(`updated the plan comment ${keep.html_url || keep.id}`);
  return { action: 'updated', id: keep.id, deleted: duplicates.map((c) => c.id) };
}

module.exports = { MARKER, composeBody, composeFromFiles, isPlanComment, upsertPlanComment };
