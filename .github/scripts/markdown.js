// Small Markdown helpers shared by the scripts that actions/github-script runs for the reconciler
// workflows (plan-comment.js, drift-issue.js). Plain CommonJS, no dependencies: tests run them
// with the machine's node (tests/test_workflows.py).
'use strict';

// GitHub refuses issue and comment bodies over 65,536 characters; keep a margin for the frame.
const MAX_BODY = 60000;

// A fenced block that no backtick run inside the text can close early.
function fence(text, info = 'text') {
  const longest = Math.max(2, ...Array.from(String(text).matchAll(/`+/g), (m) => m[0].length));
  const ticks = '`'.repeat(longest + 1);
  const inner = String(text).replace(/\n+$/, '');
  return `${ticks}${info}\n${inner}\n${ticks}`;
}

// Cut Markdown to at most `limit` characters at a line boundary, close a code fence left open,
// and say where the whole text is.
function truncate(markdown, limit, whereWhole) {
  if (markdown.length <= limit) return markdown;
  let cut = markdown.slice(0, limit);
  const newline = cut.lastIndexOf('\n');
  if (newline > 0) cut = cut.slice(0, newline);
  const openFence = cut.split('\n').filter((line) => /^\s*(```|~~~)/.test(line)).length % 2 === 1;
  const note = `_Cut here: ${markdown.length - cut.length} more characters do not fit in a GitHub comment. ` +
    `${whereWhole}_`;
  return `${cut}${openFence ? '\n```' : ''}\n\n${note}\n`;
}

module.exports = { MAX_BODY, fence, truncate };
