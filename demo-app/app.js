// The demo quiz tool as an Express app: launch (emulator only), quiz, grade passback and error pages.
'use strict';

const defaultExpress = require('express');
const { createErrorPageHandler } = require('./errorPages');
const { isLocalRequest } = require('./localOnly');
const { renderErrorPage, renderQuizPage, renderResultPage, renderStartPage } = require('./pages');
const { questionCount, questions, scoreQuiz } = require('./quiz');
const { isInstructor } = require('./roles');

// The grade-book column of this quiz: found by resourceId in the course, created on the first grade.
const QUIZ_LINE_ITEM = { resourceId: 'demo-quiz-1', label: 'Demo quiz', scoreMaximum: questionCount };

// The course and activity the emulator pretends the LMS launched from.
const DEMO_CONTEXT = { id: 'demo-course', title: 'Demo course' };
const DEMO_RESOURCE_LINK = { id: 'demo-quiz-link', title: 'Demo quiz' };

const START_PAGE = { href: '/', label: 'Back to the start page' };

// Held and refused grades, for whoever runs the demo: open only on this machine (see localOnly.js).
const ADMIN_PATH = '/admin/grades';

/**
 * Builds the quiz tool. `grades` is an `ltiaasGrades(...)` instance; `emulator` is the LTIAAS
 * emulator when the demo plays the LMS itself, undefined against a real LTIAAS account.
 * `express` is the Express module to build with (the installed one by default; tests pass 4 and 5).
 */
function createDemoApp({ grades, emulator, express = defaultExpress } = {}) {
  if (!grades) throw new TypeError('createDemoApp({ grades, emulator }): grades (from ltiaasGrades(...)) is required.');
  const gradebookUrl = emulator ? `${emulator.url}/gradebook` : undefined;

  const app = express();
  app.disable('x-powered-by');
  app.use(setPageHeaders);
  // Before the package middleware: the quiz form carries the ltik in its body.
  app.use(express.urlencoded({ extended: false, limit: '10kb' }));
  app.use(ADMIN_PATH, grades.adminRouter({ authorize: isLocalRequest }));
  app.use(grades.middleware());

  app.get('/', (req, res) => {
    res.type('html').send(renderStartPage({ gradebookUrl, adminUrl: `${ADMIN_PATH}/` }));
  });

  app.post('/launch', emulator ? createEmulatorLaunch(emulator) : launchesComeFromTheLms);

  app.get('/quiz', forwardRejection(showQuiz));

  app.post(
    '/quiz/finish',
    markGradeAttempt,
    scoreQuiz,
    grades.submitGrade({
      score: (req, res) => ({
        scoreGiven: res.locals.score,
        scoreMaximum: questionCount,
        comment: `${res.locals.score} of ${questionCount} correct`,
      }),
      lineItem: QUIZ_LINE_ITEM,
      respond: (req, res, outcome) => {
        // A queued grade carries only what the outbox kept, so fall back on the server's own score.
        const page = renderResultPage({
          status: outcome.status,
          scoreGiven: outcome.scoreGiven ?? res.locals.score,
          scoreMaximum: outcome.scoreMaximum ?? questionCount,
          gradebookUrl,
          ltik: req.lti.ltik,
        });
        res.status(outcome.status === 'queued' ? 202 : 200).type('html').send(page);
      },
    }),
  );

  app.use(showNotFound);
  app.use(createErrorPageHandler({ emulatorMode: Boolean(emulator) }));
  return app;
}

// Pages hold the ltik (in a hidden field) and are built per user: keep them out of caches, and keep
// the /quiz?ltik=... address out of Referer headers. The pages need nothing but their inline style.
function setPageHeaders(req, res, next) {
  res.set({
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'",
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  });
  next();
}

/** Express 4 does not pass a rejected promise to the error handler (Express 5 does): an async route says so itself. */
function forwardRejection(asyncRoute) {
  return function routeWithRejectionForwarded(req, res, next) {
    asyncRoute(req, res, next).catch(next);
  };
}

/** Marks the request as carrying a finished quiz's grade, so that an error page can say the grade was not recorded. */
function markGradeAttempt(req, res, next) {
  res.locals.gradeAttempt = true;
  next();
}

/** `POST /launch`: asks the emulator for a launch and redirects to the quiz with its ltik, as LTIAAS does. */
function createEmulatorLaunch(emulator) {
  // A new user per launch, so that several students can take the quiz and each get a row.
  const launchCounts = { learner: 0, instructor: 0 };
  return function launchWithEmulator(req, res) {
    const role = req.body?.role;
    if (role !== 'learner' && role !== 'instructor') {
      res.status(400).type('html').send(
        renderErrorPage({
          heading: 'Unknown role',
          explanation: 'Launch as a student or as an instructor from the start page.',
          code: 'BAD_REQUEST',
          nextStep: START_PAGE,
        }),
      );
      return;
    }
    launchCounts[role] += 1;
    const n = launchCounts[role];
    const user = role === 'learner' ? { id: `student-${n}`, name: `Student ${n}` } : { id: `instructor-${n}`, name: `Instructor ${n}` };
    const launch = emulator.launch({ user, role, context: DEMO_CONTEXT, resourceLink: DEMO_RESOURCE_LINK });
    // Not res.redirect(): its body would repeat the address, ltik included, as page text.
    res.status(303).location(`/quiz?ltik=${encodeURIComponent(launch.ltik)}`).end();
  };
}

/** `POST /launch` against a real LTIAAS account: only the LMS can start a launch. */
function launchesComeFromTheLms(req, res) {
  res.status(404).type('html').send(
    renderErrorPage({
      heading: 'Launches come from the LMS',
      explanation: 'This demo is connected to a real LTIAAS account: open the quiz from your course in the LMS.',
      code: 'NOT_FOUND',
      nextStep: START_PAGE,
    }),
  );
}

/** `GET /quiz?ltik=...`: where LTIAAS sends a launch. A missing or expired ltik fails here, with the error page. */
async function showQuiz(req, res) {
  const idToken = await req.lti.grades.idToken();
  const notices = [];
  const gradesAvailable = idToken.services.assignmentAndGrades.available;
  const instructor = isInstructor(idToken.user.roles);
  if (!gradesAvailable) {
    notices.push('The LMS did not enable grades for this activity, so your grade cannot be sent to the grade book.');
  } else if (instructor) {
    notices.push('You launched as an instructor: LMSes usually refuse grades for instructors, so finishing will show the refusal.');
  }
  res.type('html').send(
    renderQuizPage({
      userName: idToken.user.name ?? idToken.user.givenName ?? 'there',
      courseTitle: idToken.launch.context?.title ?? 'Your course',
      activityTitle: idToken.launch.resourceLink?.title ?? 'Quiz',
      questions,
      ltik: req.lti.ltik,
      notices,
      gradeRecorded: gradesAvailable && !instructor,
    }),
  );
}

function showNotFound(req, res) {
  res.status(404).type('html').send(
    renderErrorPage({ heading: 'Page not found', explanation: 'There is no page at this address.', code: 'NOT_FOUND', nextStep: START_PAGE }),
  );
}

module.exports = { createDemoApp, ADMIN_PATH };
