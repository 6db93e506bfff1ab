// Test set-up: an emulator on loopback, a grades instance pointed at it, and Express 4 and 5 apps.
import express5 from 'express';
import express4 from 'express4';
import type { Express } from 'express';
import { ltiaasGrades, type LtiaasGrades, type LtiaasGradesOptions } from 'express-ltiaas-grades';
import { startEmulator, type EmulatorOptions, type LtiaasEmulator } from 'express-ltiaas-grades/testing';

/** Both Express majors the package supports; integration suites run on each. */
export const EXPRESS_VERSIONS: ReadonlyArray<[string, typeof express5]> = [
  ['Express 5', express5],
  ['Express 4', express4 as unknown as typeof express5],
];

/** An API key that is easy to search for in anything that must not contain it. */
export const API_KEY = 'apikey-Z9x8C7v6B5n4';

export interface Harness {
  emulator: LtiaasEmulator;
  grades: LtiaasGrades;
  close(): Promise<void>;
}

export async function startHarness(
  gradesOptions: Partial<LtiaasGradesOptions> = {},
  emulatorOptions: EmulatorOptions = {},
): Promise<Harness> {
  const emulator = await startEmulator({ apiKey: API_KEY, pageSize: 3, ...emulatorOptions });
  const grades = ltiaasGrades({
    ltiaasUrl: emulator.url,
    apiKey: API_KEY,
    // Tests that are about retries turn them on; elsewhere a failure should show at once.
    retry: { retries: 0 },
    ...gradesOptions,
  });
  return {
    emulator,
    grades,
    async close() {
      await grades.close();
      await emulator.close();
    },
  };
}

/** A quiz route as a tool would write it: the server scores, the package posts. */
export function quizApp(expressLib: typeof express5, grades: LtiaasGrades, configure?: (app: Express) => void): Express {
  const app = expressLib();
  app.use(expressLib.json());
  app.use(expressLib.urlencoded({ extended: false }));
  app.use(grades.middleware());
  configure?.(app);
  app.get('/plain', (_req, res) => {
    res.json({ ok: true });
  });
  app.post(
    '/quiz/:id/finish',
    (req, res, next) => {
      // Server-side scoring: the number of answers equal to "b", whatever else the body claims.
      const answers: unknown[] = Array.isArray(req.body?.answers) ? req.body.answers : [];
      res.locals.correct = answers.filter((answer) => answer === 'b').length;
      next();
    },
    grades.submitGrade({
      score: (_req, res) => ({ scoreGiven: res.locals.correct, scoreMaximum: 3, comment: 'Auto-graded' }),
      lineItem: (req) => ({ resourceId: `quiz-${req.params.id}`, label: `Quiz ${req.params.id}`, scoreMaximum: 3 }),
    }),
  );
  app.post(
    '/activity/finish',
    grades.submitGrade({ score: () => ({ scoreGiven: 0, scoreMaximum: 5 }) }),
  );
  app.use(grades.errorHandler());
  return app;
}

/**
 * Asserts that LTIAAS was never called, after giving any call made in the background (a promise
 * not awaited by the request) time to arrive: a check right after the response would miss it.
 */
export async function expectNoLtiaasCalls(emulator: LtiaasEmulator, settleMs = 200): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  expect(emulator.requests).toHaveLength(0);
  expect(emulator.connectionCount).toBe(0);
}
