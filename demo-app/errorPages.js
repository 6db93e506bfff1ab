// The demo's HTML error handler: words for the person in front of the page, by error code and by what they were doing.
'use strict';

const { isLtiaasGradesError } = require('express-ltiaas-grades');
const { renderErrorPage } = require('./pages');
const { isInstructor } = require('./roles');

const START_PAGE = { href: '/', label: 'Back to the start page' };

// The eyebrow says what did not happen. "Grade not recorded" only where a grade was on its way:
// someone who merely opened the quiz must not be told a grade went missing.
const GRADE_NOT_RECORDED = 'Grade not recorded';
const QUIZ_NOT_OPENED = 'Quiz not opened';

/**
 * What to tell the person in front of the page. The package's own messages are written for
 * developers (they say where the ltik goes, which option to fix): none of them reaches the page.
 * The page gets the demo's words, a small technical note without instructions, and the code.
 *
 * `situation`: `emulatorMode` (the start page launches, instead of the LMS), `gradeAttempt`
 * (the request carried a finished quiz's grade) and `instructor` (true, false, or undefined when unknown).
 */
function describeGradesError(err, { emulatorMode, gradeAttempt, instructor }) {
  const openAgain = emulatorMode
    ? 'Go back to the start page and launch the quiz again.'
    : 'Go back to your course and open the quiz from there again.';
  const eyebrow = gradeAttempt ? GRADE_NOT_RECORDED : QUIZ_NOT_OPENED;
  switch (err.code) {
    case 'LTIK_MISSING':
      return gradeAttempt
        ? {
            eyebrow,
            heading: 'Your grade was not recorded',
            explanation: `This page lost its link to your course, so the quiz cannot tell whose grade it is. ${openAgain} Then finish it once more.`,
            note: 'Technical note: the request carried no launch token (ltik).',
          }
        : {
            eyebrow,
            heading: emulatorMode ? 'Launch this activity from the start page' : 'Open this activity from your course',
            explanation: emulatorMode
              ? 'The quiz learns who you are from a launch, and this page was opened without one. The start page launches it as a student or as an instructor.'
              : 'The quiz learns who you are from your course, so it has to be opened from there: go to your course and open the quiz.',
            note: 'Technical note: the request carried no launch token (ltik).',
          };
    case 'LTIK_INVALID':
      return {
        eyebrow,
        heading: gradeAttempt ? 'Your session expired before your grade was sent' : 'Your session has expired',
        explanation: gradeAttempt
          ? `Your grade was not recorded: a quiz stays open for 24 hours after it is opened from your course. ${openAgain} Then finish it once more.`
          : `A quiz stays open for 24 hours after it is opened from your course, and this one has expired (or the link is not valid). ${openAgain}`,
        note: 'Technical note: LTIAAS did not accept the launch token (ltik).',
      };
    case 'LTIAAS_REJECTED':
      if (!gradeAttempt) {
        return {
          eyebrow,
          heading: 'The quiz could not be opened',
          explanation: `Your course did not accept the quiz's request. ${openAgain}`,
          note: httpNote('the LMS', err),
        };
      }
      if (instructor) {
        return {
          eyebrow,
          heading: 'The LMS refused this grade',
          lmsMessage: err.upstream?.lmsMessage,
          explanation: emulatorMode
            ? 'LMSes record grades only for the students of a course: instructors, test students and preview users get none. ' +
              'That is expected here: launch as a student to see a grade recorded.'
            : 'LMSes record grades only for the students of a course: instructors, test students and preview users get none. ' +
              "That is expected: your students' grades are recorded when they finish.",
          note: httpNote('the LMS', err),
        };
      }
      return {
        eyebrow,
        heading: 'Your grade was not recorded',
        lmsMessage: err.upstream?.lmsMessage,
        explanation:
          "Your course's grade book did not accept it. Please tell your instructor: they can check that you are enrolled and that this activity takes grades.",
        note: httpNote('the LMS', err),
      };
    case 'GRADES_UNAVAILABLE':
      return {
        eyebrow: gradeAttempt ? GRADE_NOT_RECORDED : 'Grades are off',
        heading: 'This activity does not record grades',
        explanation:
          'Your course has not set this activity up to receive grades, so the quiz cannot send one. If it should count, tell your instructor.',
        note: 'Technical note: the launch does not include the LMS grade service.',
      };
    case 'LINE_ITEM_UNAVAILABLE':
      return {
        eyebrow,
        heading: gradeAttempt ? 'Your grade was not recorded' : 'The quiz could not be opened',
        explanation: "Your course's grade book has no column for this quiz. Please tell your instructor.",
        note: 'Technical note: no grade-book column (line item) was found for this activity.',
      };
    case 'LTIAAS_UNAVAILABLE':
      return gradeAttempt
        ? {
            eyebrow,
            heading: 'Your grade could not be sent yet',
            explanation: 'The connection to your course is not answering, and nothing was recorded. Go back and finish the quiz again in a minute.',
            note: unavailableNote(err),
          }
        : {
            eyebrow,
            heading: 'The quiz could not be opened right now',
            explanation: 'The connection to your course is not answering. Try again in a minute.',
            note: unavailableNote(err),
          };
    default:
      // SCORE_INVALID, LINE_ITEM_INVALID, OPTIONS_INVALID, and any code added later: the tool's own
      // mistake, nothing the person can fix. The details go to the log.
      return {
        eyebrow: gradeAttempt ? GRADE_NOT_RECORDED : 'Something went wrong',
        heading: gradeAttempt ? 'Your grade could not be sent' : 'The quiz tool has a problem',
        explanation: gradeAttempt
          ? 'The quiz tool has a problem on its side, and nothing was sent to your course. Its developers have the details.'
          : 'The quiz tool has a problem on its side. Its developers have the details.',
        note: 'Technical note: the details were logged for the developers.',
        logged: true,
      };
  }
}

function httpNote(who, err) {
  const status = err.upstream?.status;
  return status === undefined ? undefined : `Technical note: ${who} answered HTTP ${status}.`;
}

function unavailableNote(err) {
  const upstream = err.upstream;
  if (upstream?.kind === 'timeout') return 'Technical note: LTIAAS did not answer in time.';
  if (upstream?.kind === 'network') return 'Technical note: LTIAAS could not be reached.';
  return httpNote('LTIAAS', err) ?? 'Technical note: the grade service is not available.';
}

/**
 * Whether the person is an instructor, from the launch's ID token. The package keeps it per ltik,
 * so this makes no LTIAAS call after a grade attempt; undefined when it cannot be known.
 */
async function instructorOrUnknown(req) {
  try {
    const idToken = await req.lti?.grades.idToken();
    return idToken ? isInstructor(idToken.user.roles) : undefined;
  } catch {
    return undefined;
  }
}

/** Express error handler rendering HTML; mount it last. `emulatorMode` picks the "open it again" advice. */
function createErrorPageHandler({ emulatorMode }) {
  async function sendGradesErrorPage(err, req, res) {
    const gradeAttempt = res.locals.gradeAttempt === true;
    // Only a refusal needs to know who is there: an LMS refuses instructors, and that is no fault of theirs.
    const instructor = err.code === 'LTIAAS_REJECTED' && gradeAttempt ? await instructorOrUnknown(req) : undefined;
    const { note, logged, ...words } = describeGradesError(err, { emulatorMode, gradeAttempt, instructor });
    // The package's messages carry no secret: the log is where its developer-facing words belong.
    if (logged || err.status >= 500) console.error(`[demo] ${err.code} (${err.status}): ${err.message}`);
    const retryAfterMs = err.upstream?.retryAfterMs;
    if (err.retryable && retryAfterMs !== undefined) res.set('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
    res.status(err.status).type('html').send(renderErrorPage({ ...words, details: note, code: err.code, nextStep: START_PAGE }));
  }

  // Four parameters: that is how Express tells an error handler from a middleware.
  return function renderErrorPageHandler(err, req, res, next) {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (isLtiaasGradesError(err)) {
      // Express 4 does not catch a rejected promise: a failure here goes to Express's own handler.
      sendGradesErrorPage(err, req, res).catch(next);
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

module.exports = { createErrorPageHandler, describeGradesError };
