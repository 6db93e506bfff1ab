// The demo's HTML error handler: a friendly page for each of the package's error codes, a bare 500 for anything else.
'use strict';

const { isLtiaasGradesError } = require('express-ltiaas-grades');
const { renderErrorPage } = require('./pages');

const START_PAGE = { href: '/', label: 'Back to the start page' };

/**
 * What to tell the person in front of the page, by the package's stable error code.
 * `launchAgain` differs by mode: with the emulator the start page launches, with a real LMS only the LMS can.
 */
function describeGradesError(err, launchAgain) {
  switch (err.code) {
    case 'LTIK_MISSING':
      return { heading: 'This page needs a launch', explanation: `The quiz only knows who you are when it is launched. ${launchAgain}` };
    case 'LTIK_INVALID':
      return { heading: 'Your launch has expired or is not valid', explanation: `A launch lasts 24 hours. ${launchAgain}` };
    case 'LTIAAS_REJECTED':
      return {
        heading: 'The LMS refused this grade',
        lmsMessage: err.upstream?.lmsMessage,
        explanation:
          'LMSes accept grades only for the students of a course: instructors, and usually test students and preview users, ' +
          'cannot receive grades. Launch as a student to see a grade recorded.',
      };
    case 'GRADES_UNAVAILABLE':
      return {
        heading: 'Grades are not available for this activity',
        explanation: 'The LMS did not grant the grade service to this launch; the activity may not be set up as graded in the course.',
      };
    case 'LINE_ITEM_UNAVAILABLE':
      return { heading: 'The grade-book column is not available', explanation: 'The LMS has no column this grade can go to.' };
    case 'LTIAAS_UNAVAILABLE':
      return { heading: 'The grade service could not be reached', explanation: 'Nothing was recorded. Please try again in a moment.' };
    case 'SCORE_INVALID':
    case 'LINE_ITEM_INVALID':
      return { heading: 'This grade could not be sent', explanation: 'Nothing was sent to the LMS.' };
    case 'OPTIONS_INVALID':
      return { heading: 'The grade service is not set up correctly' };
    default:
      // A code added to the package after this demo was written still gets a sensible page.
      return { heading: 'The grade could not be handled' };
  }
}

/** Express error handler rendering HTML; mount it last. `emulatorMode` picks the "launch again" advice. */
function createErrorPageHandler({ emulatorMode }) {
  const launchAgain = emulatorMode
    ? 'Launch the quiz again from the start page.'
    : 'Open the quiz again from your course in the LMS.';

  // Four parameters: that is how Express tells an error handler from a middleware.
  return function renderErrorPageHandler(err, req, res, next) {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (isLtiaasGradesError(err)) {
      const page = describeGradesError(err, launchAgain);
      // The package's messages are written for developers: the page leads with its own words and
      // keeps the technical one as a small note, unless the LMS's own message already says it.
      // expose is false only for set-up mistakes, whose message belongs in the log.
      const details = page.lmsMessage ? undefined : err.expose ? err.message : 'A set-up problem; the details were logged.';
      if (err.status >= 500) console.error(`[demo] ${err.code} (${err.status}): ${err.message}`);
      const retryAfterMs = err.upstream?.retryAfterMs;
      if (err.retryable && retryAfterMs !== undefined) res.set('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
      res.status(err.status).type('html').send(renderErrorPage({ ...page, eyebrow: 'Grade not recorded', details, code: err.code, nextStep: START_PAGE }));
      return;
    }
    // body-parser and friends mark errors that are the client's and safe to acknowledge (e.g. 413, malformed body).
    const status = Number(err?.status ?? err?.statusCode);
    if (err?.expose === true && status >= 400 && status < 500) {
      res.status(status).type('html').send(
        renderErrorPage({ heading: 'This request could not be read', explanation: 'Go back and try again.', code: 'BAD_REQUEST', nextStep: START_PAGE }),
      );
      return;
    }
    // Anything else is a bug: the details go to the log, never to the page.
    console.error('[demo] unexpected error:', err instanceof Error ? err.stack : err);
    res.status(500).type('html').send(
      renderErrorPage({
        heading: 'Something went wrong',
        explanation: 'The quiz tool hit an unexpected problem. The details were logged for its developers.',
        code: 'INTERNAL_ERROR',
        nextStep: START_PAGE,
      }),
    );
  };
}

module.exports = { createErrorPageHandler };
