// The read-only HTML grade-book page: line items, each user's latest score, and the latest requests.
import type { GradebookContextView, GradebookLineItemView, GradebookUserRow, GradebookView } from './gradebookView';

export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

// Inline only: the page must work offline and load nothing from anywhere.
const STYLE = `
  :root { color-scheme: light; --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --head: #f0f4f8; --ok: #1b7f3b; --warn: #9a6700; --bad: #b42318; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
  header { padding: 16px 24px; border-bottom: 1px solid var(--line); background: var(--head); }
  h1 { margin: 0; font-size: 20px; }
  h2 { font-size: 17px; margin: 28px 0 8px; overflow-wrap: anywhere; }
  h3 { font-size: 15px; margin: 0 0 6px; }
  main { padding: 0 24px 32px; max-width: 1200px; }
  .meta, .empty, .platform { color: var(--muted); }
  .platform { font-weight: normal; font-size: 13px; }
  code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
  .line-item { border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; margin: 12px 0; }
  /* minmax(0, 1fr): a long id wraps inside its column instead of widening the page. */
  dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 12px; margin: 0 0 10px; }
  dt { color: var(--muted); }
  dd { margin: 0; min-width: 0; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
  thead th { background: var(--head); font-weight: 600; }
  td.score, td.score-count, td.status, td.timestamp, td.nowrap { font-variant-numeric: tabular-nums; white-space: nowrap; }
  header p { margin: 4px 0 0; }
  a { color: #1d4ed8; }
  .badge { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 9px; font-size: 11px; background: #fde8e8; color: var(--bad); }
  .status-2xx { color: var(--ok); } .status-4xx { color: var(--warn); } .status-5xx, .status-none { color: var(--bad); }
  /* Phones: a table of 5 to 7 columns cannot fit, so each row becomes a small card of labelled
     lines (the labels repeat the column headings); the header row stays for screen readers only. */
  @media (max-width: 640px) {
    header { padding: 12px 14px; }
    main { padding: 0 12px 24px; }
    .line-item { padding: 10px; }
    table.cards, table.cards tbody, table.cards tr, table.cards th, table.cards td { display: block; width: 100%; }
    table.cards thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
    table.cards tr { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; padding: 4px 0; }
    table.cards th, table.cards td { border: 0; padding: 2px 10px; }
    table.cards td::before { color: var(--muted); font-variant-numeric: normal; }
    td.score::before { content: "Score: "; } td.activity-progress::before { content: "Activity: "; }
    td.grading-progress::before { content: "Grading: "; } td.comment::before { content: "Comment: "; }
    td.timestamp::before { content: "Timestamp: "; } td.score-count::before { content: "Scores received: "; }
    td.time::before { content: "Time: "; } td.method::before { content: "Method: "; } td.path::before { content: "Path: "; }
    td.auth::before { content: "Auth: "; } td.status::before { content: "Status: "; }
    table.cards td:empty { display: none; }
  }
`;

export function renderGradebookPage(view: GradebookView): string {
  const contexts = view.contexts.length === 0
    ? '<p class="empty">No courses yet: launch or seed one.</p>'
    : view.contexts.map(renderContext).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>LTIAAS emulator: grade book</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>LTIAAS emulator: grade book</h1>
<p class="meta">Read-only; refreshes every 2 s. Generated ${escapeHtml(view.generatedAt)}. <a href="/gradebook.json">As JSON</a></p>
</header>
<main>
${contexts}
${renderRequests(view.requests)}
</main>
</body>
</html>
`;
}

function renderContext(context: GradebookContextView): string {
  const title = context.title === undefined ? escapeHtml(context.contextId) : `${escapeHtml(context.title)} <code>${escapeHtml(context.contextId)}</code>`;
  const items = context.lineItems.length === 0
    ? '<p class="empty">No line items yet.</p>'
    : context.lineItems.map(renderLineItem).join('\n');
  return `<section class="context" data-context-id="${escapeHtml(context.contextId)}" data-platform-id="${escapeHtml(context.platformId)}">
<h2>${title} <span class="platform">on ${escapeHtml(context.platformId)} (${escapeHtml(context.platformUrl)})</span></h2>
${items}
</section>`;
}

function renderLineItem(item: GradebookLineItemView): string {
  const field = (name: string, value: string | number | undefined): string =>
    `<dt>${name}</dt><dd>${value === undefined ? '<span class="empty">none</span>' : `<code>${escapeHtml(value)}</code>`}</dd>`;
  const rows = item.users.length === 0
    ? '<tr><td colspan="7" class="empty">Nobody enrolled yet.</td></tr>'
    : item.users.map(renderUserRow).join('\n');
  return `<section class="line-item" data-line-item-id="${escapeHtml(item.id)}">
<h3>${escapeHtml(item.label)}</h3>
<dl>${field('id', item.id)}${field('resourceId', item.resourceId)}${field('tag', item.tag)}${field('resourceLinkId', item.resourceLinkId)}${field('scoreMaximum', item.scoreMaximum)}</dl>
<table class="cards">
<thead><tr><th scope="col">User</th><th scope="col">Score</th><th scope="col">Activity</th><th scope="col">Grading</th><th scope="col">Comment</th><th scope="col">Timestamp</th><th scope="col">Scores received</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
}

function renderUserRow(user: GradebookUserRow): string {
  const latest = user.latest;
  const score = latest?.scoreGiven === undefined ? '—' : `${latest.scoreGiven} / ${latest.scoreMaximum ?? '?'}`;
  const badges = [!user.enrolled ? 'not enrolled' : undefined, user.enrolled && !user.gradable ? 'not gradable' : undefined]
    .filter((badge): badge is string => badge !== undefined)
    .map((badge) => `<span class="badge">${badge}</span>`)
    .join('');
  const name = user.name === undefined ? '' : `${escapeHtml(user.name)} `;
  return `<tr data-user-id="${escapeHtml(user.userId)}"><th scope="row" class="user">${name}<code>${escapeHtml(user.userId)}</code>${badges}</th>` +
    `<td class="score">${escapeHtml(score)}</td>` +
    `<td class="activity-progress">${escapeHtml(latest?.activityProgress ?? '—')}</td>` +
    `<td class="grading-progress">${escapeHtml(latest?.gradingProgress ?? '—')}</td>` +
    `<td class="comment">${escapeHtml(latest?.comment ?? '')}</td>` +
    `<td class="timestamp">${escapeHtml(latest?.timestamp ?? '—')}</td>` +
    `<td class="score-count">${user.scoresReceived}</td></tr>`;
}

function renderRequests(requests: GradebookView['requests']): string {
  const rows = requests.length === 0
    ? '<tr><td colspan="5" class="empty">No requests yet.</td></tr>'
    : [...requests].reverse().map((request) => {
        const statusClass = request.status === null ? 'status-none' : `status-${String(request.status)[0]}xx`;
        const status = request.status === null ? 'no answer' : String(request.status);
        const fault = request.fault === undefined ? '' : ` <span class="badge">${escapeHtml(request.fault)}</span>`;
        return `<tr class="request"><td class="nowrap time">${escapeHtml(request.at)}</td><td class="nowrap method">${escapeHtml(request.method)}</td>` +
          `<td class="path"><code>${escapeHtml(request.path)}</code></td><td class="nowrap auth">${escapeHtml(request.authScheme)}</td>` +
          `<td class="status ${statusClass}">${escapeHtml(status)}${fault}</td></tr>`;
      }).join('\n');
  return `<section class="request-log">
<h2>Latest requests <span class="platform">(newest first, secrets masked)</span></h2>
<table class="cards">
<thead><tr><th scope="col">Time</th><th scope="col">Method</th><th scope="col">Path</th><th scope="col">Auth</th><th scope="col">Status</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
}
