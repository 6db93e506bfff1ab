// grades.adminRouter() over a BullMQ outbox on a real redis-server: every instance's page and JSON show the shared queue's held and refused grades (no secret), re-queue and discard act on it, and the authorize and cross-site rules hold the same.
import type { Request } from 'express';
import express from 'express';
import request from 'supertest';
import type { LtiaasGrades } from 'express-ltiaas-grades';
import { API_KEY, ENCRYPTION_KEY, startBullmqHarness, until, type BullmqHarness, type OutboxInstance } from './bullmqHarness';
import { startRedisServer, type RedisTestServer } from './redisServer';

const HOST = 'tool.test';
const ORIGIN = `http://${HOST}`;
const MOUNT = '/ops/grades';
const COURSE = 'admin-course';
const LMS_REFUSAL = 'Incorrect score received';
const LMS_MAINTENANCE = 'The LMS is under maintenance until 02:00';

let server: RedisTestServer;
let harness: BullmqHarness;

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});
beforeEach(async () => {
  harness = await startBullmqHarness(server);
});
afterEach(async () => {
  await harness.close();
});

/** An app with the admin page under MOUNT, open to requests that carry `X-Operator: yes` (or as `authorize` says). */
function adminApp(grades: LtiaasGrades, authorize: (req: Request) => unknown = (req) => req.get('x-operator') === 'yes') {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(MOUNT, grades.adminRouter({ authorize: authorize as (req: Request) => boolean }));
  app.use(grades.errorHandler());
  return app;
}

/** The page's token and the cookie it set, as a browser keeps them. */
async function openPage(app: ReturnType<typeof adminApp>): Promise<{ token: string; cookie: string; html: string }> {
  const page = await request(app).get(`${MOUNT}/`).set('Host', HOST).set('X-Operator', 'yes');
  expect(page.status).toBe(200);
  const token = /name="token" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
  const cookie = ((page.headers['set-cookie'] as unknown as string[] | undefined) ?? [])[0]?.split(';')[0] ?? '';
  return { token, cookie, html: page.text };
}

/** A form post as the browser sends it from the page (headers given as '' are left out). */
function postForm(app: ReturnType<typeof adminApp>, url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  let call = request(app).post(url).set('Host', HOST).set('X-Operator', 'yes').type('form');
  for (const [name, value] of Object.entries({ Origin: ORIGIN, 'Sec-Fetch-Site': 'same-origin', ...headers })) if (value !== '') call = call.set(name, value);
  return call.send(fields);
}

const getJson = (app: ReturnType<typeof adminApp>) => request(app).get(`${MOUNT}/grades.json`).set('Host', HOST).set('X-Operator', 'yes');

/**
 * Instructors' grades, queued by `web` while the LMS failed and then refused by the LMS when the
 * `deliverer`'s worker delivered them (instructors are not gradable in the emulator's course).
 */
async function refusedInstructorGrades(web: OutboxInstance, deliverer: OutboxInstance, teachers: string[]) {
  const student = harness.emulator.launch({ user: { id: 'learner-1' }, context: { id: COURSE }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
  const launches = teachers.map((id) => harness.emulator.launch({ user: { id }, role: 'instructor', context: { id: COURSE }, lineItem: student.lineItemId! }));
  harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: teachers.length });
  const ids: string[] = [];
  for (const launch of launches) {
    const outcome = await web.grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 });
    expect(outcome).toMatchObject({ status: 'queued' });
    ids.push((outcome as { id: string }).id);
  }
  await until(async () => (await deliverer.outbox.failed()).length === teachers.length, 20_000, 'the refused grades on the failed list');
  return { student, launches, ids };
}

describe('the admin page over a BullMQ outbox', () => {
  it('lists the shared queue\'s held and refused grades on every instance, with user, column, score, age, attempts and the LMS\'s words, and no secret', async () => {
    // Two web instances that only queue, and one that delivers (it stops before the held grade is queued).
    const web = harness.instance({ worker: false });
    const otherWeb = harness.instance({ worker: false });
    const deliverer = harness.instance();
    const { student, launches, ids } = await refusedInstructorGrades(web, deliverer, ['teacher-1']);
    await deliverer.grades.close();
    const lmsBody = { status: 502, error: 'Bad Gateway', details: { message: 'EXTERNAL_PLATFORM_ERROR', description: 'The LMS did not answer properly.', externalError: true, bodyReceived: { message: LMS_MAINTENANCE } } };
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 502, body: lmsBody, times: 1 });
    const held = await web.grades.forLaunch(student.ltik).submit({ scoreGiven: 4, scoreMaximum: 10 });
    expect(held).toMatchObject({ status: 'queued' });
    const heldId = (held as { id: string }).id;
    const secrets = [API_KEY, ENCRYPTION_KEY, student.ltik, student.serviceKey!, ...launches.flatMap((launch) => [launch.ltik, launch.serviceKey!])];

    for (const grades of [web.grades, otherWeb.grades]) {
      const app = adminApp(grades);
      const { html } = await openPage(app);
      const refusedRow = new RegExp(`<tr data-job-id="${ids[0]}">([\\s\\S]*?)</tr>`).exec(html)?.[1] ?? '';
      expect(refusedRow).toContain('<td class="user">teacher-1</td>');
      expect(refusedRow).toContain(`<td class="column">${student.lineItemId!.replace(/&/g, '&amp;')}</td>`);
      expect(refusedRow).toContain('<td class="score">1 / 10</td>');
      expect(refusedRow).toMatch(/<td class="age">\d+ s<\/td>/);
      expect(refusedRow).toContain('<td class="attempts">1</td>');
      expect(refusedRow).toContain('<code>LTIAAS_REJECTED</code>');
      expect(refusedRow).toContain(`The LMS said: ${LMS_REFUSAL}`);
      expect(refusedRow).toContain(`action="${MOUNT}/failed/${ids[0]}/requeue"`);
      expect(refusedRow).toContain(`action="${MOUNT}/failed/${ids[0]}/discard"`);
      const heldRow = new RegExp(`<tr data-job-id="${heldId}">([\\s\\S]*?)</tr>`).exec(html)?.[1] ?? '';
      expect(heldRow).toContain('<td class="user">learner-1</td>');
      expect(heldRow).toContain(`<td class="column">${student.lineItemId!.replace(/&/g, '&amp;')}</td>`);
      expect(heldRow).toContain('<td class="score">4 / 10</td>');
      expect(heldRow).toMatch(/<td class="age">\d+ s<\/td>/);
      expect(heldRow).toContain('<td class="attempts">0</td>');
      expect(heldRow).toContain('<code>LTIAAS_UNAVAILABLE</code>');
      expect(heldRow).toContain(`The LMS said: ${LMS_MAINTENANCE}`);
      expect(html).toContain('Refused for good (1)');
      expect(html).toContain('Waiting for delivery (1)');

      const json = await getJson(app);
      expect(json.status).toBe(200);
      expect(json.body).toMatchObject({
        status: { state: 'degraded', outbox: { pending: 1, failed: 1 } },
        pending: [{ id: heldId, userId: 'learner-1', lineItemId: student.lineItemId, scoreGiven: 4, scoreMaximum: 10, attempts: 0, lastError: { code: 'LTIAAS_UNAVAILABLE', upstreamStatus: 502, lmsMessage: LMS_MAINTENANCE } }],
        failed: [{ id: ids[0], userId: 'teacher-1', lineItemId: student.lineItemId, scoreGiven: 1, scoreMaximum: 10, attempts: 1, error: { code: 'LTIAAS_REJECTED', upstreamStatus: 422, lmsMessage: LMS_REFUSAL } }],
      });
      for (const secret of secrets) {
        expect([secret, html.includes(secret), json.text.includes(secret)]).toEqual([secret, false, false]);
      }
    }
  });

  it('re-queues a refused grade from any instance\'s page once the cause is fixed, and a worker of the queue delivers it; discards another for good', async () => {
    const web = harness.instance({ worker: false });
    const deliverer = harness.instance();
    const { student, ids } = await refusedInstructorGrades(web, deliverer, ['teacher-1', 'teacher-2']);
    const [fixed, dropped] = ids as [string, string];
    const app = adminApp(web.grades);
    // The router keeps the outcomes its instance sees from the moment it is made.
    const delivererApp = adminApp(deliverer.grades);
    const { token, cookie } = await openPage(app);

    // The cause fixed in the LMS: the first instructor is now gradable.
    harness.emulator.enroll(COURSE, { id: 'teacher-1', role: 'instructor', gradable: true });
    const requeued = await postForm(app, `${MOUNT}/failed/${fixed}/requeue`, { token }, { Cookie: cookie });
    expect([requeued.status, requeued.headers.location]).toEqual([303, `${MOUNT}/?done=requeued`]);
    await until(() => harness.emulator.scores(student.lineItemId!, 'teacher-1').length === 1, 20_000, 'the re-queued grade delivered');
    expect(harness.emulator.scores(student.lineItemId!, 'teacher-1').map((score) => score.scoreGiven)).toEqual([1]);
    expect(await web.outbox.drain(20_000)).toBe(true);
    expect((await web.outbox.failed()).map((job) => job.id)).toEqual([dropped]);
    const after = await request(app).get(requeued.headers.location!).set('Host', HOST).set('X-Operator', 'yes').set('Cookie', cookie);
    expect(after.text).toContain('The grade was re-queued');
    expect(after.text).not.toContain(`data-job-id="${fixed}"`);
    // Delivered by the deliverer's worker: its page lists the delivery among its recent outcomes.
    await until(async () => (await getJson(delivererApp)).body.recent.some((entry: { outcome: string; userId?: string }) => entry.outcome === 'delivered' && entry.userId === 'teacher-1'), 10_000, 'the delivery among the deliverer\'s recent outcomes');

    const discarded = await postForm(app, `${MOUNT}/failed/${dropped}/discard`, { token }, { Cookie: cookie });
    expect([discarded.status, discarded.headers.location]).toEqual([303, `${MOUNT}/?done=discarded`]);
    expect(await deliverer.outbox.failed()).toEqual([]);
    expect(await deliverer.outbox.pending()).toEqual([]);
    expect(await server.client().exists(`bull:${harness.queueName}:${dropped}`)).toBe(0);
    expect(harness.emulator.scores(student.lineItemId!, 'teacher-2')).toEqual([]);
    for (const action of ['discard', 'requeue']) {
      expect((await postForm(app, `${MOUNT}/failed/${dropped}/${action}`, { token }, { Cookie: cookie })).status).toBe(404);
    }
    // A delivered grade is no refused grade either.
    expect((await postForm(app, `${MOUNT}/failed/${fixed}/requeue`, { token }, { Cookie: cookie })).status).toBe(404);
  });

  it('refuses every request unless authorize resolves true, and any form from another site or without the page\'s token, leaving the shared queue as it was', async () => {
    const web = harness.instance({ worker: false });
    const deliverer = harness.instance();
    const { ids } = await refusedInstructorGrades(web, deliverer, ['teacher-1']);
    const [id] = ids as [string];
    const app = adminApp(web.grades);
    const mine = await openPage(app);
    const someoneElses = await openPage(app);

    for (const authorize of [() => false, () => 'true', () => Promise.reject(new Error('session store down'))]) {
      const closed = adminApp(web.grades, authorize);
      for (const answer of [
        await request(closed).get(`${MOUNT}/`).set('Host', HOST),
        await request(closed).get(`${MOUNT}/grades.json`).set('Host', HOST),
        await postForm(closed, `${MOUNT}/failed/${id}/discard`, { token: mine.token }, { Cookie: mine.cookie }),
        await postForm(closed, `${MOUNT}/failed/${id}/requeue`, { token: mine.token }, { Cookie: mine.cookie }),
      ]) {
        expect(answer.status).toBe(403);
        expect(answer.text).not.toContain('teacher-1');
      }
    }

    const forged: Array<[string, Record<string, string>, Record<string, string>]> = [
      ['cross-site', { token: mine.token }, { Cookie: mine.cookie, 'Sec-Fetch-Site': 'cross-site' }],
      ['another Origin, no Sec-Fetch-Site', { token: mine.token }, { Cookie: mine.cookie, 'Sec-Fetch-Site': '', Origin: 'http://attacker.test' }],
      ['no token', {}, { Cookie: mine.cookie }],
      ["another browser's token", { token: someoneElses.token }, { Cookie: mine.cookie }],
    ];
    for (const action of ['discard', 'requeue']) {
      for (const [what, fields, headers] of forged) {
        const answer = await postForm(app, `${MOUNT}/failed/${id}/${action}`, fields, headers);
        expect([action, what, answer.status, answer.text.includes('Nothing was changed')]).toEqual([action, what, 403, true]);
      }
    }
    // Read through the other instance's own connection: the job is still failed, and nothing was sent.
    expect((await deliverer.outbox.failed()).map((job) => job.id)).toEqual([id]);
    expect(await deliverer.outbox.pending()).toEqual([]);
    // The page's own form, from any instance of the tool (the token's key comes from the API key).
    const answer = await postForm(adminApp(deliverer.grades), `${MOUNT}/failed/${id}/discard`, { token: mine.token }, { Cookie: mine.cookie });
    expect(answer.status).toBe(303);
    expect(await web.outbox.failed()).toEqual([]);
  });
});
