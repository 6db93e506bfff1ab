// The demo's HTML pages, rendered on the server; every interpolated value goes through escapeHtml.
'use strict';

/** Makes any value safe as HTML text and as a quoted attribute value. */
function escapeHtml(value) {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

// Inline only: the demo must work offline and load nothing from anywhere (the CSP says so too).
const STYLE = `
  :root { color-scheme: light; --ink: #1f2933; --muted: #52606d; --line: #d9e2ec; --page: #f0f4f8;
    --primary: #1f5fbf; --primary-dark: #174a96; --ok: #1b7f3b; --ok-bg: #e8f5ec; --warn-bg: #fff6e0; --bad: #b42318; --bad-bg: #fdecea; }
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; display: flex; flex-direction: column; align-items: center;
    padding: 48px 16px; background: var(--page); color: var(--ink);
    font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
  .card { width: 100%; max-width: 640px; background: #fff; border: 1px solid var(--line); border-radius: 10px;
    box-shadow: 0 1px 3px rgba(31, 41, 51, .08); padding: 32px 36px; }
  .eyebrow { margin: 0 0 4px; color: var(--muted); font-size: 13px; letter-spacing: .04em; text-transform: uppercase; }
  h1 { margin: 0 0 12px; font-size: 26px; line-height: 1.25; }
  p { margin: 0 0 14px; }
  .muted { color: var(--muted); }
  .actions { display: flex; flex-wrap: wrap; gap: 12px; margin: 22px 0 8px; }
  .actions form { margin: 0; }
  button, .button { display: inline-block; padding: 10px 18px; border-radius: 6px; font: inherit; font-weight: 600;
    text-decoration: none; cursor: pointer; border: 1px solid var(--primary); }
  .primary { background: var(--primary); color: #fff; }
  .primary:hover { background: var(--primary-dark); border-color: var(--primary-dark); }
  .secondary { background: #fff; color: var(--primary); }
  .secondary:hover { background: #eef4fc; }
  button:focus-visible, .button:focus-visible, a:focus-visible, input:focus-visible { outline: 3px solid #9cc0f5; outline-offset: 2px; }
  a { color: var(--primary); }
  fieldset { border: 1px solid var(--line); border-radius: 8px; margin: 0 0 16px; padding: 14px 18px 10px; }
  /* Floated, the legend sits inside the box and wraps like a heading instead of cutting the border. */
  legend { float: left; width: 100%; padding: 0; margin: 0 0 10px; font-weight: 600; }
  legend + * { clear: both; }
  .details { font-size: 13px; }
  .choice { display: flex; gap: 10px; align-items: baseline; padding: 6px 8px; margin: 0 -8px; border-radius: 6px; cursor: pointer; }
  .choice:hover { background: var(--page); }
  input[type="radio"] { accent-color: var(--primary); }
  .notice { border-radius: 6px; padding: 10px 14px; margin: 0 0 18px; background: var(--warn-bg); }
  .result { font-size: 20px; font-weight: 600; padding: 14px 18px; border-radius: 8px; margin: 8px 0 18px; }
  .result.submitted { background: var(--ok-bg); color: var(--ok); }
  .result.queued { background: var(--warn-bg); }
  .error h1 { color: var(--bad); }
  .error .lms-message { background: var(--bad-bg); border-left: 4px solid var(--bad); padding: 10px 14px; border-radius: 4px; }
  code { font: 14px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--page); padding: 1px 5px; border-radius: 4px; }
  footer { margin-top: 20px; color: var(--muted); font-size: 13px; }
  @media (max-width: 520px) { body { padding: 16px 8px; } .card { padding: 22px 18px; } h1 { font-size: 22px; } }
`;

/** The page frame: one centred card. `content` is HTML the caller has already escaped. */
function layout(title, content) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Demo quiz tool</title>
<style>${STYLE}</style>
</head>
<body>
<main class="card">
${content}
</main>
<footer>Demo quiz tool · grades sent with express-ltiaas-grades</footer>
</body>
</html>
`;
}

// The ltik travels between the tool's own pages only in this hidden field (never in a link or text).
function ltikField(ltik) {
  return `<input type="hidden" name="ltik" value="${escapeHtml(ltik)}">`;
}

// Only in emulator mode: with a real LMS the grade book is the LMS's own page, not ours to link.
function gradebookLink(gradebookUrl, { text, className }) {
  if (!gradebookUrl) return '';
  const classAttribute = className ? ` class="${escapeHtml(className)}"` : '';
  return `<a${classAttribute} data-test="gradebook-link" href="${escapeHtml(gradebookUrl)}">${escapeHtml(text)}</a>`;
}

/** `GET /`: what the demo is, and how to launch it in this mode; `adminUrl` is the operators' page of held and refused grades. */
function renderStartPage({ gradebookUrl, adminUrl }) {
  const emulatorMode = Boolean(gradebookUrl);
  const body = emulatorMode
    ? `<p>This is a small quiz tool that sends each student's grade to the LMS grade book through LTIAAS, using <code>express-ltiaas-grades</code>.
Here an embedded LTIAAS emulator plays the LMS: launch as a student to see your grade recorded, or as an instructor to see how an LMS refuses a grade.</p>
<div class="actions">
<form method="post" action="/launch"><input type="hidden" name="role" value="learner"><button class="primary" type="submit" data-test="launch-student">Launch as a student</button></form>
<form method="post" action="/launch"><input type="hidden" name="role" value="instructor"><button class="secondary" type="submit" data-test="launch-instructor">Launch as an instructor</button></form>
</div>
<p class="muted">Each student launch is a new student, so you can try several; the emulated LMS's ${gradebookLink(gradebookUrl, { text: 'grade book' })} shows every grade it received.</p>`
    : `<p>This is a small quiz tool that sends each student's grade to the LMS grade book through LTIAAS, using <code>express-ltiaas-grades</code>.
It is connected to a real LTIAAS account, so it is launched from the LMS: LTIAAS then opens this tool at <code>/quiz?ltik=…</code>.</p>
<p class="muted">Add the tool to a course in your LMS and open it there.</p>`;
  const admin = adminUrl
    ? `<p class="muted">Operators: the <a data-test="admin-link" href="${escapeHtml(adminUrl)}">grades held and refused</a> by the outbox, with the LMS's message and buttons to re-queue them (open from this machine only).</p>`
    : '';
  return layout('Start', `<p class="eyebrow">Demo quiz tool</p>
<h1>Grade passback demo</h1>
${body}
${admin}`);
}

/**
 * `GET /quiz`: the questions, as a form that carries the launch's ltik to /quiz/finish.
 * `gradeRecorded` is false when the notices say the grade will not reach the grade book
 * (grades off, or an instructor whom the LMS will refuse): then the page does not promise it.
 */
function renderQuizPage({ userName, courseTitle, activityTitle, questions, ltik, notices, gradeRecorded }) {
  const noticeHtml = (notices ?? []).map((notice) => `<p class="notice">${escapeHtml(notice)}</p>`).join('\n');
  const fieldsets = questions
    .map((question, index) => {
      const choices = question.choices
        .map(
          (choice) =>
            `<label class="choice"><input type="radio" name="${escapeHtml(question.name)}" value="${escapeHtml(choice.value)}"> <span>${escapeHtml(choice.label)}</span></label>`,
        )
        .join('\n');
      return `<fieldset>
<legend>${index + 1}. ${escapeHtml(question.prompt)}</legend>
${choices}
</fieldset>`;
    })
    .join('\n');
  return layout(activityTitle, `<p class="eyebrow">${escapeHtml(courseTitle)}</p>
<h1>${escapeHtml(activityTitle)}</h1>
<p data-test="quiz-intro">Hello, ${escapeHtml(userName)}. Answer the ${questions.length} questions below; each correct answer is worth one point${
    gradeRecorded ? ', and your grade goes to the course grade book when you finish' : ''
  }.</p>
${noticeHtml}
<form method="post" action="/quiz/finish" data-test="quiz-form">
${ltikField(ltik)}
${fieldsets}
<div class="actions"><button class="primary" type="submit" data-test="submit-quiz">${gradeRecorded ? 'Finish and send my grade' : 'Finish the quiz'}</button></div>
</form>`);
}

/** `POST /quiz/finish`: what became of the grade. */
function renderResultPage({ status, scoreGiven, scoreMaximum, gradebookUrl, ltik }) {
  const queued = status === 'queued';
  const result = queued
    ? `Your grade is saved and will reach the grade book shortly: ${escapeHtml(scoreGiven)} / ${escapeHtml(scoreMaximum)}`
    : `Your grade was sent to the grade book: ${escapeHtml(scoreGiven)} / ${escapeHtml(scoreMaximum)}`;
  return layout('Quiz finished', `<p class="eyebrow">Quiz finished</p>
<h1>Thank you</h1>
<p class="result ${queued ? 'queued' : 'submitted'}" data-test="result">${result}</p>
<p class="muted">${escapeHtml(scoreGiven)} of ${escapeHtml(scoreMaximum)} answers were correct. Taking the quiz again replaces this grade.</p>
<div class="actions">
${gradebookLink(gradebookUrl, { text: 'Open the grade book', className: 'button primary' })}
<form method="get" action="/quiz">${ltikField(ltik)}<button class="secondary" type="submit" data-test="retake-quiz">Take the quiz again</button></form>
</div>`);
}

const ERROR_PAGE_FIELDS = new Set(['heading', 'eyebrow', 'details', 'code', 'lmsMessage', 'explanation', 'nextStep']);

/**
 * Any failure: a heading, the LMS's words and our explanation, a small technical note, the stable
 * code, and what to do next. An unknown field throws: a misnamed one (`message` for `explanation`)
 * would otherwise drop its words from the page without a sound.
 */
function renderErrorPage(fields) {
  const unknown = Object.keys(fields).filter((name) => !ERROR_PAGE_FIELDS.has(name));
  if (unknown.length > 0) {
    throw new TypeError(`renderErrorPage: unknown field(s) ${unknown.join(', ')}; the fields are ${[...ERROR_PAGE_FIELDS].join(', ')}.`);
  }
  const { heading, eyebrow = 'Something went wrong', details, code, lmsMessage, explanation, nextStep } = fields;
  const lms = lmsMessage ? `<p class="lms-message">The LMS said: “${escapeHtml(lmsMessage)}”</p>\n` : '';
  const why = explanation ? `<p>${escapeHtml(explanation)}</p>\n` : '';
  const note = details ? `<p class="muted details" data-test="error-note">${escapeHtml(details)}</p>\n` : '';
  const codeLine = code ? `<p class="muted details">Error code: <code data-test="error-code">${escapeHtml(code)}</code></p>\n` : '';
  const next = nextStep ? `<div class="actions"><a class="button secondary" href="${escapeHtml(nextStep.href)}">${escapeHtml(nextStep.label)}</a></div>` : '';
  return layout(heading, `<div class="error" data-test="error">
<p class="eyebrow">${escapeHtml(eyebrow)}</p>
<h1>${escapeHtml(heading)}</h1>
${lms}${why}${note}</div>
${codeLine}${next}`);
}

module.exports = { escapeHtml, renderStartPage, renderQuizPage, renderResultPage, renderErrorPage };
