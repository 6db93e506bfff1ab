// The demo quiz tool's pages, through supertest on Express 4 and 5: error pages that explain, in words that fit who sees them.
import request from 'supertest';
import type { Express } from 'express';
import type { LtiaasGrades } from 'express-ltiaas-grades';
import type { LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { EXPRESS_VERSIONS, startHarness, type Harness } from './helpers/harness';

// The demo is plain JavaScript, loaded as `npm run demo` loads it (the package by name, mapped to src/ by jest).
const { createDemoApp } = require('../demo-app/app') as {
  createDemoApp(options: { grades: LtiaasGrades; emulator?: LtiaasEmulator; express?: unknown }): Express;
};
const { renderErrorPage } = require('../demo-app/pages') as { renderErrorPage(fields: Record<string, unknown>): string };

// Answers for 3 of 4 correct (the key is q1=b, q2=c, q3=a, q4=d).
const THREE_OF_FOUR = { q1: 'b', q2: 'c', q3: 'a', q4: 'a' };
// Words of the package's developer-facing messages (where the ltik goes, what the API key does): never on a page.
const DEVELOPER_WORDS = ['Authorization', 'Bearer', 'send it on', 'a body field', 'API key', 'LTIAAS rejected the ltik', 'extractLtik'];

function expectNoDeveloperWords(html: string): void {
  for (const words of DEVELOPER_WORDS) expect({ words, found: html.includes(words) }).toEqual({ words, found: false });
}

/** The heading, the eyebrow above it and the explanation of an error page, as text. */
function errorPageParts(html: string): { eyebrow: string; heading: string; code: string; note: string } {
  const pick = (pattern: RegExp): string => pattern.exec(html)?.[1] ?? '';
  return {
    eyebrow: pick(/<p class="eyebrow">([^<]*)<\/p>/),
    heading: pick(/<h1>([^<]*)<\/h1>/),
    code: pick(/data-test="error-code">([^<]*)</),
    note: pick(/data-test="error-note">([^<]*)</),
  };
}

describe.each(EXPRESS_VERSIONS)('the demo on %s', (_name, expressLib) => {
  let harness: Harness;
  let app: Express;
  let consoleError: jest.SpyInstance;

  beforeEach(async () => {
    harness = await startHarness();
    app = createDemoApp({ grades: harness.grades, emulator: harness.emulator, express: expressLib });
    // The demo logs 5xx and tool bugs to stderr; the tests read what it logged instead of printing it.
    consoleError = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    consoleError.mockRestore();
    await harness.close();
  });

  /** Launches through the demo's own start page, as the browser does, and returns the quiz's ltik. */
  async function launchAs(role: 'learner' | 'instructor'): Promise<string> {
    const response = await request(app).post('/launch').type('form').send({ role });
    expect(response.status).toBe(303);
    return new URL(response.headers.location!, 'http://demo.test').searchParams.get('ltik')!;
  }

  describe('pages of its own', () => {
    it('"Page not found" explains that there is no page at this address', async () => {
      const response = await request(app).get('/no-such-page');
      expect(response.status).toBe(404);
      expect(errorPageParts(response.text)).toMatchObject({ heading: 'Page not found', code: 'NOT_FOUND' });
      expect(response.text).toContain('There is no page at this address.');
    });

    it('"Unknown role" explains how to launch', async () => {
      const response = await request(app).post('/launch').type('form').send({ role: 'dean' });
      expect(response.status).toBe(400);
      expect(errorPageParts(response.text)).toMatchObject({ heading: 'Unknown role', code: 'BAD_REQUEST' });
      expect(response.text).toContain('Launch as a student or as an instructor from the start page.');
    });

    it('"Launches come from the LMS" explains where to open the quiz, against a real LTIAAS account', async () => {
      const realModeApp = createDemoApp({ grades: harness.grades, express: expressLib });
      const response = await request(realModeApp).post('/launch').type('form').send({ role: 'learner' });
      expect(response.status).toBe(404);
      expect(errorPageParts(response.text).heading).toBe('Launches come from the LMS');
      expect(response.text).toContain('open the quiz from your course in the LMS');
    });

    it('renderErrorPage refuses a field it does not know, so that no explanation is dropped silently', () => {
      expect(() => renderErrorPage({ heading: 'Page not found', message: 'There is no page at this address.' })).toThrow(
        /unknown field\(s\) message/,
      );
    });
  });

  describe('opening the quiz: no grade was sent, so no page speaks of one', () => {
    it('without an ltik: "launch this activity from the start page", no grade, no developer instructions', async () => {
      const response = await request(app).get('/quiz');
      expect(response.status).toBe(401);
      expect(errorPageParts(response.text)).toEqual({
        eyebrow: 'Quiz not opened',
        heading: 'Launch this activity from the start page',
        code: 'LTIK_MISSING',
        note: 'Technical note: the request carried no launch token (ltik).',
      });
      expect(response.text).not.toMatch(/not recorded/i);
      expectNoDeveloperWords(response.text);
    });

    it('without an ltik, against a real LTIAAS account: "open this activity from your course"', async () => {
      const realModeApp = createDemoApp({ grades: harness.grades, express: expressLib });
      const response = await request(realModeApp).get('/quiz');
      expect(response.status).toBe(401);
      expect(errorPageParts(response.text)).toMatchObject({ eyebrow: 'Quiz not opened', heading: 'Open this activity from your course' });
      expect(response.text).toContain('go to your course and open the quiz');
      expect(response.text).not.toMatch(/not recorded/i);
      expectNoDeveloperWords(response.text);
    });

    it('with an ltik LTIAAS does not accept (invalid, or expired): "your session has expired", no grade', async () => {
      const expired = harness.emulator.launch({ expired: true }).ltik;
      for (const ltik of ['not-an-ltik', expired]) {
        const response = await request(app).get('/quiz').query({ ltik });
        expect(response.status).toBe(401);
        expect(errorPageParts(response.text)).toEqual({
          eyebrow: 'Quiz not opened',
          heading: 'Your session has expired',
          code: 'LTIK_INVALID',
          note: 'Technical note: LTIAAS did not accept the launch token (ltik).',
        });
        expect(response.text).toContain('Go back to the start page and launch the quiz again.');
        expect(response.text).not.toMatch(/not recorded/i);
        expect(response.text).not.toContain(expired);
        expectNoDeveloperWords(response.text);
      }
    });

    it('while LTIAAS is down: "could not be opened right now", no grade', async () => {
      harness.emulator.fail({ path: '/api/idtoken', status: 503 });
      const response = await request(app).get('/quiz').query({ ltik: harness.emulator.launch().ltik });
      expect(response.status).toBe(503);
      expect(errorPageParts(response.text)).toMatchObject({
        eyebrow: 'Quiz not opened',
        heading: 'The quiz could not be opened right now',
        code: 'LTIAAS_UNAVAILABLE',
        note: 'Technical note: LTIAAS answered HTTP 503.',
      });
      expect(response.text).not.toMatch(/not recorded/i);
      expectNoDeveloperWords(response.text);
    });
  });

  describe('the quiz page promises the grade book only when the grade will get there', () => {
    it('a student is told the grade goes to the course grade book', async () => {
      const response = await request(app).get('/quiz').query({ ltik: await launchAs('learner') });
      expect(response.status).toBe(200);
      expect(response.text).toContain('your grade goes to the course grade book when you finish');
      expect(response.text).toContain('Finish and send my grade');
      expect(response.text).not.toContain('class="notice"');
    });

    it('an instructor is not promised the grade book, only told the LMS will refuse', async () => {
      const response = await request(app).get('/quiz').query({ ltik: await launchAs('instructor') });
      expect(response.status).toBe(200);
      expect(response.text).not.toContain('grade goes to the course grade book');
      expect(response.text).not.toContain('Finish and send my grade');
      expect(response.text).toContain('LMSes usually refuse grades for instructors');
    });

    it('where the LMS did not enable grades, the page says so instead', async () => {
      const response = await request(app).get('/quiz').query({ ltik: harness.emulator.launch({ grades: false }).ltik });
      expect(response.status).toBe(200);
      expect(response.text).not.toContain('grade goes to the course grade book');
      expect(response.text).toContain('did not enable grades for this activity');
    });
  });

  describe('finishing the quiz: the grade was on its way, so the page says it was not recorded, and why', () => {
    it('a student scores 3 of 4 and the grade is sent', async () => {
      const ltik = await launchAs('learner');
      const response = await request(app).post('/quiz/finish').type('form').send({ ltik, ...THREE_OF_FOUR });
      expect(response.status).toBe(200);
      expect(response.text).toContain('Your grade was sent to the grade book: 3 / 4');
    });

    it('an instructor is refused by the LMS: told it is expected, with the LMS\'s words', async () => {
      const ltik = await launchAs('instructor');
      const response = await request(app).post('/quiz/finish').type('form').send({ ltik, ...THREE_OF_FOUR });
      expect(response.status).toBe(422);
      expect(errorPageParts(response.text)).toEqual({
        eyebrow: 'Grade not recorded',
        heading: 'The LMS refused this grade',
        code: 'LTIAAS_REJECTED',
        note: 'Technical note: the LMS answered HTTP 422.',
      });
      expect(response.text).toContain('The LMS said: “Incorrect score received”');
      expect(response.text).toContain('launch as a student to see a grade recorded');
      expectNoDeveloperWords(response.text);
    });

    it('a student the LMS refuses is told the grade was not recorded and to tell the instructor, not to "launch as a student"', async () => {
      const ltik = harness.emulator.launch({ role: 'learner', gradable: false, user: { name: 'Test Student' } }).ltik;
      const response = await request(app).post('/quiz/finish').type('form').send({ ltik, ...THREE_OF_FOUR });
      expect(response.status).toBe(422);
      expect(errorPageParts(response.text)).toMatchObject({ eyebrow: 'Grade not recorded', heading: 'Your grade was not recorded', code: 'LTIAAS_REJECTED' });
      expect(response.text).toContain('Please tell your instructor');
      expect(response.text).toContain('The LMS said: “Incorrect score received”');
      expect(response.text).not.toMatch(/launch as a student/i);
      expectNoDeveloperWords(response.text);
    });

    it('without an ltik: the grade was not recorded, open the quiz again', async () => {
      const response = await request(app).post('/quiz/finish').type('form').send(THREE_OF_FOUR);
      expect(response.status).toBe(401);
      expect(errorPageParts(response.text)).toMatchObject({ eyebrow: 'Grade not recorded', heading: 'Your grade was not recorded', code: 'LTIK_MISSING' });
      expect(response.text).toContain('Go back to the start page and launch the quiz again.');
      expectNoDeveloperWords(response.text);
    });

    it('where the LMS did not enable grades: the activity does not record grades', async () => {
      const ltik = harness.emulator.launch({ grades: false }).ltik;
      const response = await request(app).post('/quiz/finish').type('form').send({ ltik, ...THREE_OF_FOUR });
      expect(response.status).toBe(403);
      expect(errorPageParts(response.text)).toMatchObject({
        eyebrow: 'Grade not recorded',
        heading: 'This activity does not record grades',
        code: 'GRADES_UNAVAILABLE',
      });
      expectNoDeveloperWords(response.text);
    });
  });
});
