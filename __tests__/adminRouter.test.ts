// grades.adminRouter({ authorize }) on Express 4 and 5: closed unless authorize resolves true, the held and refused grades with the LMS's words (escaped, no secret), re-queue and discard by form, and no form accepted from another site.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Request } from 'express';
import request from 'supertest';
import { fileOutbox, isLtiaasGradesError, ltiaasGrades, type GradeOutbox, type LtiaasGrades } from 'express-ltiaas-grades';
import { FormGuard } from '../src/admin/formGuard';
import { API_KEY, EXPRESS_VERSIONS, startHarness, type Harness } from './helpers/harness';

const HOST = 'tool.test';
const ORIGIN = `http://${HOST}`;
const MOUNT = '/ops/grades';
const LMS_REFUSAL = 'Incorrect score received';

type ExpressLib = (typeof EXPRESS_VERSIONS)[number][1];

/** Lines the logger received. */
function capturingLogger() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, fields, message });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** An app with the admin page mounted under MOUNT, open to requests that carry `X-Operator: yes`. */
function adminApp(expressLib: ExpressLib, grades: LtiaasGrades, { parseForms = true, authorize }: { parseForms?: boolean; authorize?: (req: Request) => unknown } = {}) {
  const app = expressLib();
  app.use(expressLib.json());
  if (parseForms) app.use(expressLib.urlencoded({ extended: false }));
  app.use(MOUNT, grades.adminRouter({ authorize: (authorize ?? ((req: Request) => req.get('x-operator') === 'yes')) as (req: Request) => boolean }));
  app.use((_req, res) => {
    res.status(404).send('the app\'s own 404');
  });
  app.use(grades.errorHandler());
  return app;
}

/** The page's token and the cookie it set, as a browser would keep them. */
async function openPage(app: ReturnType<typeof adminApp>): Promise<{ token: string; cookie: string; html: string }> {
  const page = await request(app).get(`${MOUNT}/`).set('Host', HOST).set('X-Operator', 'yes');
  expect(page.status).toBe(200);
  const token = /name="token" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
  const cookie = ((page.headers['set-cookie'] as unknown as string[] | undefined) ?? [])[0]?.split(';')[0] ?? '';
  return { token, cookie, html: page.text };
}

/** A form post from the page, as the browser sends it from this origin. */
function postForm(app: ReturnType<typeof adminApp>, url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  let call = request(app).post(url).set('Host', HOST).set('X-Operator', 'yes').type('form');
  for (const [name, value] of Object.entries({ Origin: ORIGIN, 'Sec-Fetch-Site': 'same-origin', ...headers })) if (value !== '') call = call.set(name, value);
  return call.send(fields);
}

describe('grades.adminRouter()', () => {
  let harness: Harness | undefined;
  let dir: string;
  let outbox: GradeOutbox;
  let logged: ReturnType<typeof capturingLogger>;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'admin-'));
    outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 50 } });
    logged = capturingLogger();
  });
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
    // Only ever the folder this test made with mkdtemp.
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** An instructor's grade, queued while the LMS failed, then refused by it when the outbox delivered it. */
  async function refusedInstructorGrade(h: Harness, lmsBody?: unknown) {
    const student = h.emulator.launch({ user: { id: 'learner-1' }, context: { id: 'admin-course' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const teacher = h.emulator.launch({ user: { id: 'teacher-1' }, role: 'instructor', context: { id: 'admin-course' }, lineItem: student.lineItemId! });
    h.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
    if (lmsBody !== undefined) h.emulator.fail({ method: 'POST', path: /\/scores$/, status: 422, body: lmsBody });
    await expect(h.grades.forLaunch(teacher.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).resolves.toMatchObject({ status: 'queued' });
    expect(await outbox.drain(10_000)).toBe(true);
    const [failed] = await outbox.failed();
    expect(failed).toBeDefined();
    return { student, teacher, failed: failed! };
  }

  async function start() {
    harness = await startHarness({ outbox, logger: logged.logger });
    return harness;
  }

  describe('its options', () => {
    it('needs authorize, a function, and refuses other options, naming the fix', () => {
      const grades = ltiaasGrades({ ltiaasUrl: 'http://127.0.0.1:1', apiKey: API_KEY });
      const messageOf = (build: () => unknown) => {
        try {
          build();
        } catch (error) {
          expect(isLtiaasGradesError(error) && error.code).toBe('OPTIONS_INVALID');
          return (error as Error).message;
        }
        throw new Error('expected OPTIONS_INVALID');
      };
      expect(messageOf(() => (grades.adminRouter as (o?: unknown) => unknown)())).toContain('option "authorize" must be a function');
      expect(messageOf(() => grades.adminRouter({} as never))).toContain('option "authorize" must be a function');
      expect(messageOf(() => grades.adminRouter({ authorize: true } as never))).toContain('option "authorize" must be a function');
      expect(messageOf(() => grades.adminRouter({ authorize: () => true, authorise: () => true } as never))).toContain('unknown option "authorise": the only option is authorize');
      return grades.close();
    });

    it.each(EXPRESS_VERSIONS)('on %s: mounted without calling it, answers with the fix instead of hanging', async (_name, expressLib) => {
      const h = await start();
      const app = expressLib();
      app.use(MOUNT, h.grades.adminRouter as never);
      app.use(h.grades.errorHandler());
      const answer = await request(app).get(`${MOUNT}/`);
      expect([answer.status, answer.body.error.code]).toEqual([500, 'OPTIONS_INVALID']);
      expect(logged.lines.map((line) => line.message).join('\n')).toContain("grades.adminRouter is a factory: write app.use('/admin/grades', grades.adminRouter({ authorize }))");
    });
  });

  describe.each(EXPRESS_VERSIONS)('on %s', (_name, expressLib) => {
    it('refuses every request (403, nothing changed) unless authorize resolves exactly true; a throwing or rejecting authorize is logged', async () => {
      const h = await start();
      const { failed, teacher } = await refusedInstructorGrade(h);
      const { token, cookie } = await openPage(adminApp(expressLib, h.grades));
      const refusing: Array<[string, (req: Request) => unknown]> = [
        ['false', () => false],
        ['a truthy string', () => 'true'],
        ['1', () => 1],
        ['nothing', () => undefined],
        ['a promise of false', async () => false],
        ['a throw', () => {
          throw new Error(`no session store for ${teacher.ltik}`);
        }],
        ['a rejection', () => Promise.reject(new Error('session store down'))],
      ];
      for (const [what, authorize] of refusing) {
        const app = adminApp(expressLib, h.grades, { authorize });
        for (const answer of [
          await request(app).get(`${MOUNT}/`).set('Host', HOST),
          await request(app).get(`${MOUNT}/grades.json`).set('Host', HOST),
          await postForm(app, `${MOUNT}/failed/${failed.id}/discard`, { token }, { Cookie: cookie }),
          await postForm(app, `${MOUNT}/failed/${failed.id}/requeue`, { token }, { Cookie: cookie }),
        ]) {
          expect([what, answer.status]).toEqual([what, 403]);
          expect(answer.text).not.toContain('teacher-1');
          expect(answer.headers['cache-control']).toBe('no-store');
          expect(answer.headers['content-security-policy']).toContain("frame-ancestors 'none'");
        }
      }
      expect((await outbox.failed()).map((job) => job.id)).toEqual([failed.id]);
      const errors = logged.lines.filter((line) => line.message === 'admin: authorize(req) failed; the request was refused');
      expect(errors).toHaveLength(8);
      expect(JSON.stringify(logged.lines)).not.toContain(teacher.ltik);
    });

    it('passes requests for other paths on to the app without calling authorize', async () => {
      const h = await start();
      let calls = 0;
      const app = adminApp(expressLib, h.grades, { authorize: () => ++calls > 0 });
      const other = await request(app).get(`${MOUNT}/elsewhere`).set('Host', HOST);
      expect([other.status, other.text, calls]).toEqual([404, "the app's own 404", 0]);
    });

    it('shows the refused grade with the LMS message, its user, column, score, age and attempts, with strict headers and no secret', async () => {
      const h = await start();
      const { failed, teacher } = await refusedInstructorGrade(h);
      const page = await request(adminApp(expressLib, h.grades)).get(`${MOUNT}/`).set('Host', HOST).set('X-Operator', 'yes');
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      const row = new RegExp(`<tr data-job-id="${failed.id}">([\\s\\S]*?)</tr>`).exec(page.text)?.[1] ?? '';
      expect(row).toContain('<td class="user">teacher-1</td>');
      expect(row).toContain(`<td class="column">${failed.lineItemId!.replace(/&/g, '&amp;')}</td>`);
      expect(row).toContain('<td class="score">1 / 10</td>');
      expect(row).toMatch(/<td class="age">\d+ s<\/td>/);
      expect(row).toContain('<td class="attempts">1</td>');
      expect(row).toContain('<code>LTIAAS_REJECTED</code>');
      expect(row).toContain(`The LMS said: ${LMS_REFUSAL}`);
      expect(row).toContain('data-action="requeue"');
      expect(row).toContain('data-action="discard"');
      for (const secret of [API_KEY, teacher.ltik, teacher.serviceKey!]) expect(page.text).not.toContain(secret);

      const csp = page.headers['content-security-policy'] as string;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("form-action 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/script-src|unsafe-inline/);
      expect(page.text).not.toMatch(/<script/i);
      // The one inline style is the one the policy's hash allows.
      const style = /<style>([\s\S]*?)<\/style>/.exec(page.text)![1]!;
      expect(csp).toContain(`style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'`);
      expect(page.headers).toMatchObject({ 'cache-control': 'no-store', 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
      const cookie = (page.headers['set-cookie'] as unknown as string[])[0]!;
      expect(cookie).toMatch(new RegExp(`^ltiaas_grades_admin=[A-Za-z0-9_-]{43}; Path=${MOUNT}; HttpOnly; SameSite=Strict$`));
    });

    it('escapes what the LMS said', async () => {
      const h = await start();
      const hostile = '<img src=x onerror=alert(1)> & "quoted" \'too\'';
      const lmsBody = { status: 422, error: 'Unprocessable Entity', details: { message: 'EXTERNAL_PLATFORM_ERROR', description: 'The LMS did not accept the request.', externalError: true, bodyReceived: { message: hostile } } };
      await refusedInstructorGrade(h, lmsBody);
      const page = await request(adminApp(expressLib, h.grades)).get(`${MOUNT}/`).set('Host', HOST).set('X-Operator', 'yes');
      expect(page.text).toContain('The LMS said: &lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot; &#39;too&#39;');
      expect(page.text).not.toContain('<img');
    });

    it('serves the same as JSON, with the outbox outcomes seen since it was made, without secrets', async () => {
      const h = await start();
      const app = adminApp(expressLib, h.grades);
      const { failed, teacher } = await refusedInstructorGrade(h);
      const answer = await request(app).get(`${MOUNT}/grades.json`).set('Host', HOST).set('X-Operator', 'yes');
      expect(answer.status).toBe(200);
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(answer.body).toMatchObject({
        status: { state: 'degraded', outbox: { pending: 0, failed: 1 } },
        pending: [],
        failed: [{ id: failed.id, userId: 'teacher-1', scoreGiven: 1, scoreMaximum: 10, attempts: 1, error: { code: 'LTIAAS_REJECTED', upstreamStatus: 422, lmsMessage: LMS_REFUSAL } }],
        recent: [{ outcome: 'refused', userId: 'teacher-1', code: 'LTIAAS_REJECTED' }],
      });
      for (const secret of [API_KEY, teacher.ltik, teacher.serviceKey!]) expect(answer.text).not.toContain(secret);
    });

    it.each([
      ['a body parser of the app', true],
      ['only express.json() in the app', false],
    ])('re-queues a refused grade from the page\'s form (with %s), which is then delivered and shown as such', async (_how, parseForms) => {
      const h = await start();
      const { failed, student } = await refusedInstructorGrade(h);
      const app = adminApp(expressLib, h.grades, { parseForms });
      const { token, cookie } = await openPage(app);
      // The cause fixed in the LMS: the instructor is now gradable.
      h.emulator.enroll('admin-course', { id: 'teacher-1', role: 'instructor', gradable: true });

      const answer = await postForm(app, `${MOUNT}/failed/${failed.id}/requeue`, { token }, { Cookie: cookie });
      expect([answer.status, answer.headers.location]).toEqual([303, `${MOUNT}/?done=requeued`]);
      expect(await outbox.drain(10_000)).toBe(true);
      expect(h.emulator.scores(student.lineItemId!, 'teacher-1').map((score) => score.scoreGiven)).toEqual([1]);
      expect(await outbox.failed()).toEqual([]);
      const page = await request(app).get(answer.headers.location!).set('Host', HOST).set('X-Operator', 'yes').set('Cookie', cookie);
      expect(page.text).toContain('The grade was re-queued');
      expect(page.text).toMatch(/<tr data-outcome="delivered">[\s\S]*?<td class="user">teacher-1<\/td>[\s\S]*?<td class="score">1 \/ 10<\/td>/);
      expect(logged.lines.some((line) => line.message === 'admin: refused grade re-queued' && line.fields.id === failed.id)).toBe(true);
    });

    it('discards a refused grade from the page\'s form; an unknown one is 404', async () => {
      const h = await start();
      const { failed } = await refusedInstructorGrade(h);
      const app = adminApp(expressLib, h.grades);
      const { token, cookie } = await openPage(app);
      const answer = await postForm(app, `${MOUNT}/failed/${failed.id}/discard`, { token }, { Cookie: cookie });
      expect([answer.status, answer.headers.location]).toEqual([303, `${MOUNT}/?done=discarded`]);
      expect(await outbox.failed()).toEqual([]);
      expect(await outbox.pending()).toEqual([]);
      const again = await postForm(app, `${MOUNT}/failed/${failed.id}/discard`, { token }, { Cookie: cookie });
      expect(again.status).toBe(404);
    });

    it('changes nothing for a form from another site, without the page\'s token, or for another browser', async () => {
      const h = await start();
      const { failed } = await refusedInstructorGrade(h);
      const app = adminApp(expressLib, h.grades);
      const mine = await openPage(app);
      const someoneElses = await openPage(app);
      const url = `${MOUNT}/failed/${failed.id}/discard`;
      const forged: Array<[string, Record<string, string>, Record<string, string>]> = [
        ['cross-site', { token: mine.token }, { Cookie: mine.cookie, 'Sec-Fetch-Site': 'cross-site' }],
        ['same-site, other origin', { token: mine.token }, { Cookie: mine.cookie, 'Sec-Fetch-Site': 'same-site' }],
        ['another Origin, no Sec-Fetch-Site', { token: mine.token }, { Cookie: mine.cookie, 'Sec-Fetch-Site': '', Origin: 'http://attacker.test' }],
        ['Origin null', { token: mine.token }, { Cookie: mine.cookie, 'Sec-Fetch-Site': '', Origin: 'null' }],
        ['neither Origin nor Sec-Fetch-Site', { token: mine.token }, { Cookie: mine.cookie, 'Sec-Fetch-Site': '', Origin: '' }],
        ['no token', {}, { Cookie: mine.cookie }],
        ['a made-up token', { token: `${Date.now().toString(36)}.${'A'.repeat(43)}` }, { Cookie: mine.cookie }],
        ['no cookie', { token: mine.token }, {}],
        ["another browser's token", { token: someoneElses.token }, { Cookie: mine.cookie }],
      ];
      for (const [what, fields, headers] of forged) {
        const answer = await postForm(app, url, fields, headers);
        expect([what, answer.status]).toEqual([what, 403]);
        expect(answer.text).toContain('Nothing was changed');
      }
      const get = await request(app).get(url).set('Host', HOST).set('X-Operator', 'yes');
      expect([get.status, get.headers.allow]).toEqual([405, 'POST']);
      expect((await outbox.failed()).map((job) => job.id)).toEqual([failed.id]);
      expect(logged.lines.filter((line) => line.message === 'admin: a form was refused; nothing was changed')).toHaveLength(forged.length);
      // The page's own form still works after all that.
      expect((await postForm(app, url, { token: mine.token }, { Cookie: mine.cookie })).status).toBe(303);
    });

    it('marks its cookie Secure behind https', async () => {
      const h = await start();
      const app = adminApp(expressLib, h.grades);
      app.set('trust proxy', 'loopback');
      const page = await request(app).get(`${MOUNT}/`).set('Host', HOST).set('X-Operator', 'yes').set('X-Forwarded-Proto', 'https');
      expect((page.headers['set-cookie'] as unknown as string[])[0]).toMatch(/; Secure$/);
    });
  });

  it('without an outbox, says so and has nothing to change', async () => {
    const h = await startHarness();
    harness = h;
    const [, express5] = EXPRESS_VERSIONS[0]!;
    const app = adminApp(express5, h.grades);
    const { token, cookie, html } = await openPage(app);
    expect(html).toContain('This tool has no outbox');
    // The page has no forms, so no token to post with.
    expect(token).toBe('');
    const post = await postForm(app, `${MOUNT}/failed/some-id/requeue`, { token }, { Cookie: cookie });
    expect([post.status, post.text.includes('Nothing was changed')]).toEqual([403, true]);
    const json = await request(app).get(`${MOUNT}/grades.json`).set('Host', HOST).set('X-Operator', 'yes');
    expect(json.body).toMatchObject({ status: { state: 'ok' }, pending: [], failed: [], recent: [] });
    expect(json.body.status).not.toHaveProperty('outbox');
  });
});

describe('the admin form tokens', () => {
  const fakeRequest = (cookie?: string) => ({ headers: cookie ? { cookie } : {}, baseUrl: '/admin', secure: false }) as unknown as Request;

  it('expire 12 hours after their page was made, and are bound to the key', () => {
    let now = Date.parse('2026-03-01T08:00:00Z');
    const guard = new FormGuard(Buffer.alloc(32, 1), () => now);
    const cookies: string[] = [];
    const response = { append: (_name: string, value: string) => cookies.push(value) };
    const token = guard.pageToken(fakeRequest(), response as never);
    const browser = fakeRequest(cookies[0]!.split(';')[0]);
    expect(guard.tokenProblem(browser, token)).toBeUndefined();
    now += 12 * 60 * 60 * 1000;
    expect(guard.tokenProblem(browser, token)).toBeUndefined();
    now += 1;
    expect(guard.tokenProblem(browser, token)).toBe('the page has expired');
    now -= 1;
    expect(new FormGuard(Buffer.alloc(32, 2), () => now).tokenProblem(browser, token)).toBe('the form carries no valid token');
  });
});
