// The admin page's HTML: the status, the held and refused grades with the LMS's words, and the re-queue and discard forms; every value escaped.
import { createHash } from 'node:crypto';
import type { FailedGradeJobView, GradeJobView, JobError } from '../outbox/outboxTypes';
import type { GradesStatus } from '../status/gradesStatus';

/** A grade the outbox delivered or gave up on lately, as this instance saw it. */
export interface RecentOutboxOutcome {
  at: string;
  outcome: 'delivered' | 'refused';
  userId?: string;
  lineItemId?: string;
  scoreGiven?: number;
  scoreMaximum?: number;
  code?: string;
}

export interface AdminPageData {
  status: GradesStatus;
  hasOutbox: boolean;
  pending: GradeJobView[];
  failed: FailedGradeJobView[];
  recent: RecentOutboxOutcome[];
  /** Where the router is mounted (`req.baseUrl`), for the forms' actions. */
  baseUrl: string;
  /** The form token of this page. */
  token: string;
  now: number;
  notice?: string;
}

/** The most rows of each list the page shows (the JSON has them all). */
export const PAGE_ROWS = 500;

/** Makes any value safe as HTML text and as a quoted attribute value. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

// The only style, inline and allowed by its hash: the page loads nothing and runs no script.
const STYLE = `
  :root { color-scheme: light; --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --page: #f5f7fa; --primary: #1f5fbf;
    --ok: #1b7f3b; --ok-bg: #e8f5ec; --warn: #8a5a00; --warn-bg: #fff6e0; --bad: #b42318; --bad-bg: #fdecea; }
  * { box-sizing: border-box; }
  body { margin: 0; padding: 28px 20px; background: var(--page); color: var(--ink);
    font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
  main { max-width: 1200px; margin: 0 auto; }
  h1 { margin: 0 0 4px; font-size: 24px; }
  h2 { margin: 28px 0 10px; font-size: 18px; }
  p { margin: 0 0 10px; }
  .muted { color: var(--muted); }
  .state { display: inline-block; padding: 2px 10px; border-radius: 999px; font-weight: 600; font-size: 13px; }
  .state.ok { background: var(--ok-bg); color: var(--ok); }
  .state.degraded { background: var(--warn-bg); color: var(--warn); }
  .state.unhealthy { background: var(--bad-bg); color: var(--bad); }
  .notice { padding: 8px 12px; border-radius: 6px; background: var(--ok-bg); margin: 12px 0; }
  ul.problems { margin: 8px 0 0; padding-left: 20px; }
  dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0 0; }
  dl.facts dt { color: var(--muted); }
  dl.facts dd { margin: 0; }
  table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
  th, td { text-align: left; vertical-align: top; padding: 8px 10px; border-bottom: 1px solid var(--line); font-size: 14px; }
  th { background: #eef2f7; font-weight: 600; }
  td.column { word-break: break-all; max-width: 280px; }
  td.user, td.score, td.age { white-space: nowrap; }
  .lms-message { display: block; margin-top: 4px; padding: 4px 8px; border-left: 3px solid var(--bad); background: var(--bad-bg); }
  .actions { display: flex; gap: 6px; flex-wrap: wrap; }
  form { margin: 0; }
  button { font: inherit; font-weight: 600; padding: 5px 12px; border-radius: 6px; cursor: pointer; border: 1px solid var(--primary); background: #fff; color: var(--primary); }
  button.requeue { background: var(--primary); color: #fff; }
  button.discard { border-color: var(--bad); color: var(--bad); }
  button:focus-visible, a:focus-visible { outline: 3px solid #9cc0f5; outline-offset: 2px; }
  .empty { color: var(--muted); font-style: italic; }
  code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
  a { color: var(--primary); }
`;

/** The `style-src` source that allows exactly the page's style. */
export const STYLE_SOURCE = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/** `12 s`, `5 min`, `3 h 20 min`, `2 d 4 h`. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
  const days = Math.floor(hours / 24);
  return `${days} d${hours % 24 ? ` ${hours % 24} h` : ''}`;
}

const orDash = (value: unknown) => (value === undefined || value === null || value === '' ? '—' : escapeHtml(value));

function scoreText(view: { scoreGiven?: number; scoreMaximum?: number }): string {
  if (view.scoreGiven === undefined) return '—';
  return escapeHtml(view.scoreMaximum === undefined ? view.scoreGiven : `${view.scoreGiven} / ${view.scoreMaximum}`);
}

function errorCell(error: JobError | undefined): string {
  if (!error) return '—';
  const status = error.upstreamStatus !== undefined ? ` <span class="muted">(${escapeHtml(error.upstreamStatus)})</span>` : '';
  const lms = error.lmsMessage ? `<span class="lms-message" data-test="lms-message">The LMS said: ${escapeHtml(error.lmsMessage)}</span>` : '';
  return `<code>${escapeHtml(error.code)}</code>${status}<br>${escapeHtml(error.message)}${lms}`;
}

const columnOf = (view: GradeJobView) => orDash(view.lineItemId ?? view.resourceId);

function actionForm(data: AdminPageData, id: string, action: 'requeue' | 'discard', label: string): string {
  const target = `${data.baseUrl}/failed/${encodeURIComponent(id)}/${action}`;
  return `<form method="post" action="${escapeHtml(target)}"><input type="hidden" name="token" value="${escapeHtml(data.token)}"><button type="submit" class="${action}" data-action="${action}">${label}</button></form>`;
}

function failedRows(data: AdminPageData): string {
  if (data.failed.length === 0) return '<tr><td colspan="8" class="empty">No refused grades.</td></tr>';
  return data.failed
    .slice(0, PAGE_ROWS)
    .map(
      (job) => `<tr data-job-id="${escapeHtml(job.id)}">
<td class="user">${orDash(job.userId)}</td><td class="column">${columnOf(job)}</td><td class="score">${scoreText(job)}</td>
<td class="age">${escapeHtml(formatAge(data.now - Date.parse(job.createdAt)))}</td><td class="attempts">${escapeHtml(job.attempts)}</td>
<td class="error">${errorCell(job.error)}</td><td class="failed-at">${escapeHtml(job.failedAt)}</td>
<td><div class="actions">${actionForm(data, job.id, 'requeue', 'Re-queue')}${actionForm(data, job.id, 'discard', 'Discard')}</div></td>
</tr>`,
    )
    .join('\n');
}

function pendingRows(data: AdminPageData): string {
  if (data.pending.length === 0) return '<tr><td colspan="7" class="empty">Nothing waiting.</td></tr>';
  return data.pending
    .slice(0, PAGE_ROWS)
    .map(
      (job) => `<tr data-job-id="${escapeHtml(job.id)}">
<td class="user">${orDash(job.userId)}</td><td class="column">${columnOf(job)}</td><td class="score">${scoreText(job)}</td>
<td class="age">${escapeHtml(formatAge(data.now - Date.parse(job.createdAt)))}</td><td class="attempts">${escapeHtml(job.attempts)}</td>
<td class="error">${errorCell(job.lastError)}</td><td class="next">${escapeHtml(job.nextAttemptAt)}</td>
</tr>`,
    )
    .join('\n');
}

function recentRows(data: AdminPageData): string {
  if (data.recent.length === 0) return '<tr><td colspan="5" class="empty">This instance has delivered or refused nothing from the outbox since it started.</td></tr>';
  return data.recent
    .map(
      (entry) => `<tr data-outcome="${escapeHtml(entry.outcome)}">
<td>${escapeHtml(entry.at)}</td><td class="outcome">${entry.outcome === 'delivered' ? 'Delivered' : `Refused <code>${orDash(entry.code)}</code>`}</td>
<td class="user">${orDash(entry.userId)}</td><td class="column">${orDash(entry.lineItemId)}</td><td class="score">${scoreText(entry)}</td>
</tr>`,
    )
    .join('\n');
}

const more = (shown: unknown[]) => (shown.length > PAGE_ROWS ? `<p class="muted">And ${shown.length - PAGE_ROWS} more: see the JSON.</p>` : '');

function statusSection(data: AdminPageData): string {
  const { status } = data;
  const { ltiaas, outbox } = status;
  const problems = status.problems.length
    ? `<ul class="problems">${status.problems.map((problem) => `<li><code>${escapeHtml(problem.code)}</code> ${escapeHtml(problem.message)}</li>`).join('')}</ul>`
    : '';
  const facts: Array<[string, string]> = [
    ['LTIAAS last answered', orDash(ltiaas.lastSuccessAt)],
    ['Last failure', ltiaas.lastFailure ? `${escapeHtml(ltiaas.lastFailureAt)}: <code>${escapeHtml(ltiaas.lastFailure.errorType)}</code> on <code>${escapeHtml(ltiaas.lastFailure.endpoint)}</code>` : '—'],
    ['Failures in a row', escapeHtml(ltiaas.consecutiveFailures)],
  ];
  if (outbox && !outbox.error) {
    facts.push(['Outbox', outbox.paused ? `paused until ${orDash(outbox.pausedUntil)}` : 'delivering']);
  }
  return `<p>State: <span class="state ${escapeHtml(status.state)}" data-test="state">${escapeHtml(status.state)}</span></p>${problems}
<dl class="facts">${facts.map(([term, value]) => `<dt>${escapeHtml(term)}</dt><dd>${value}</dd>`).join('')}</dl>`;
}

/** The whole page. */
export function renderAdminPage(data: AdminPageData): string {
  const notice = data.notice ? `<p class="notice" data-test="notice">${escapeHtml(data.notice)}</p>` : '';
  const lists = data.hasOutbox
    ? `<h2>Refused for good (${escapeHtml(data.failed.length)})</h2>
<p class="muted">The LMS or LTIAAS refused these grades. Fix the cause (enrol the student, re-open the column, ...), then re-queue; or discard a grade given another way.</p>
<table data-test="failed"><thead><tr><th>User</th><th>Column</th><th>Score</th><th>Age</th><th>Attempts</th><th>Error</th><th>Refused at</th><th></th></tr></thead>
<tbody>
${failedRows(data)}
</tbody></table>${more(data.failed)}
<h2>Waiting for delivery (${escapeHtml(data.pending.length)})</h2>
<table data-test="pending"><thead><tr><th>User</th><th>Column</th><th>Score</th><th>Age</th><th>Attempts</th><th>Last error</th><th>Next attempt</th></tr></thead>
<tbody>
${pendingRows(data)}
</tbody></table>${more(data.pending)}
<h2>Lately from the outbox, on this instance</h2>
<p class="muted">The grades this instance delivered or gave up on since it started. With an outbox several instances share, each instance lists its own deliveries.</p>
<table data-test="recent"><thead><tr><th>When</th><th>Outcome</th><th>User</th><th>Column</th><th>Score</th></tr></thead>
<tbody>
${recentRows(data)}
</tbody></table>`
    : '<p class="muted">This tool has no outbox: a grade that cannot be delivered is answered as not delivered, and nothing is held.</p>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Grades · express-ltiaas-grades</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>Grades</h1>
<p class="muted">Checked ${escapeHtml(data.status.checkedAt)} · <a href="${escapeHtml(`${data.baseUrl}/grades.json`)}">JSON</a> · <a href="${escapeHtml(`${data.baseUrl}/`)}">Reload</a></p>
${notice}
${statusSection(data)}
${lists}
</main>
</body>
</html>
`;
}

/** A short page for a refusal or a missing grade: no detail beyond the fixed sentence. */
export function renderMessagePage(heading: string, sentence: string, baseUrl?: string): string {
  const back = baseUrl !== undefined ? `<p><a href="${escapeHtml(`${baseUrl}/`)}">Back to the grades</a></p>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(heading)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(heading)}</h1>
<p>${escapeHtml(sentence)}</p>
${back}
</main>
</body>
</html>
`;
}
