// The durable outbox: 202 queued when LTIAAS fails, delivered later, dead letters, service key after the ltik expires.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import express from 'express';
import { fileOutbox, isLtiaasGradesError, ltiaasGrades, OptionsError, storageOutbox, type GradeEventMap, type GradeOutbox, type Logger, type OutboxStorage } from 'express-ltiaas-grades';
import { API_KEY, quizApp, startHarness, type Harness } from './helpers/harness';
import { ManualClock, settleCallbacks } from './helpers/manualClock';
import { waitFor } from './helpers/toolProcesses';

/** What setTimeout can hold; a longer delay fires after 1 ms. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

function capturedLogs(): { lines: LogLine[]; logger: Logger } {
  const lines: LogLine[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, fields, message });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('outbox', () => {
  let harness: Harness;
  let dir: string;
  let outbox: GradeOutbox;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-test-'));
    outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 100 } });
    // The default deadline: no test here waits for a call to time out, and a short one would turn a slow moment of the machine into a failure.
    harness = await startHarness({ outbox, retry: { retries: 1, minDelayMs: 5, maxDelayMs: 20 } });
  });
  afterEach(async () => {
    await harness.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const pendingFiles = async () => (await fs.readdir(path.join(dir, 'pending'))).filter((name) => name.endsWith('.json'));

  it('answers 202 queued when LTIAAS is unreachable, with the job on disk (0600) first, then delivers it', async () => {
    const app = quizApp(express, harness.grades);
    const launch = harness.emulator.launch({ user: { id: 'queued-1' }, context: { id: 'ob-1' } });
    await harness.emulator.unreachable();
    const res = await request(app).post(`/quiz/2/finish?ltik=${launch.ltik}`).send({ answers: ['b', 'b'] });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ status: 'queued', id: expect.any(String) });
    const files = await pendingFiles();
    expect(files).toEqual([`${res.body.id}.json`]);
    const stat = await fs.stat(path.join(dir, 'pending', files[0]!));
    expect(stat.mode & 0o777).toBe(0o600);
    expect((await fs.stat(path.join(dir, 'pending'))).mode & 0o777).toBe(0o700);

    await harness.emulator.reachable();
    expect(await outbox.drain(10_000)).toBe(true);
    const [column] = harness.emulator.lineItems({ contextId: 'ob-1' });
    expect(column).toMatchObject({ resourceId: 'quiz-2' });
    expect(harness.emulator.scores(column!.id).map((s) => [s.userId, s.scoreGiven])).toEqual([['queued-1', 2]]);
    expect(await pendingFiles()).toEqual([]);
  });

  it('keeps the time the student finished as the score\'s timestamp', async () => {
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await harness.grades.forLaunch(launch.ltik).idToken();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 4 });
    const before = Date.now();
    const outcome = await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 8, scoreMaximum: 10 });
    expect(outcome).toMatchObject({ status: 'queued', userId: launch.userId, lineItemId: launch.lineItemId });
    expect(await outbox.drain(10_000)).toBe(true);
    const posts = harness.emulator.requests.filter((r) => r.path.endsWith('/scores')).map((r) => (r.body as { timestamp: string }).timestamp);
    expect(posts.length).toBeGreaterThanOrEqual(5);
    expect(new Set(posts).size).toBe(1);
    expect(Date.parse(posts[0]!)).toBeGreaterThanOrEqual(before - 1);
    expect(harness.emulator.scores(launch.lineItemId!)).toHaveLength(1);
  });

  it('stamps a grade queued before the ID token could be read with the time the student finished', async () => {
    await harness.close();
    // The outbox waits on a clock of its own: nothing is tried during the outage, and the one
    // round after it starts when the test says so.
    const clock = new ManualClock();
    outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 100 }, ...clock.options() });
    harness = await startHarness({ outbox, retry: { retries: 0 } });
    const launch = harness.emulator.launch({ user: { id: 'early' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const grades = harness.grades.forLaunch(launch.ltik);
    await harness.emulator.unreachable();
    expect((await grades.submit({ scoreGiven: 2, scoreMaximum: 10 })).status).toBe('queued');
    expect((await grades.submit({ scoreGiven: 3, scoreMaximum: 10 })).status).toBe('queued');
    const finished = Date.now();
    // Fixed when the student finished: the stamps held while queued are the ones sent, exactly.
    const held = (await outbox.pending()).map((job) => [job.scoreGiven, job.timestamp]);
    expect(held).toEqual([
      [2, expect.any(String)],
      [3, expect.any(String)],
    ]);
    await harness.emulator.reachable();
    clock.fireNext();
    expect(await outbox.drain(10_000)).toBe(true);
    const sent = harness.emulator.requests
      .filter((r) => r.path.endsWith('/scores') && r.status === 204)
      .map((r) => r.body as { timestamp: string; scoreGiven: number });
    expect(sent).toHaveLength(2);
    expect(sent.map((score) => [score.scoreGiven, score.timestamp]).sort()).toEqual([...held].sort());
    for (const score of sent) expect(Date.parse(score.timestamp)).toBeLessThanOrEqual(finished);
    // The second attempt is the newer score, whichever was delivered first: the LMS keeps 3.
    const newest = [...sent].sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp))[0]!;
    expect(newest.scoreGiven).toBe(3);
    expect(harness.emulator.scores(launch.lineItemId!, 'early').at(-1)!.scoreGiven).toBe(3);
  });

  it('probes with one grade per round while LTIAAS keeps failing, instead of sending every grade', async () => {
    await harness.close();
    const clock = new ManualClock();
    outbox = fileOutbox({ dir, retry: { minDelayMs: 100, maxDelayMs: 200 }, ...clock.options() });
    harness = await startHarness({ outbox, retry: { retries: 0 } });
    const launches = Array.from({ length: 10 }, (_, i) => harness.emulator.launch({ user: { id: `p${i}` }, lineItem: { label: 'Lab', scoreMaximum: 10 } }));
    for (const launch of launches) await harness.grades.forLaunch(launch.ltik).idToken();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    for (const launch of launches) expect((await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).status).toBe('queued');
    const scorePosts = () => harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ });
    expect(scorePosts()).toBe(10);
    // Each round: one timer armed (the backoff, 100-200 ms), then exactly one probe, never 10.
    for (let round = 1; round <= 6; round += 1) {
      expect(await clock.untilArmed()).toBe(true);
      expect(clock.pending).toHaveLength(1);
      const [next] = clock.pending;
      expect(next!.delayMs).toBeGreaterThanOrEqual(100);
      expect(next!.delayMs).toBeLessThanOrEqual(200);
      const before = scorePosts();
      clock.fireNext();
      expect(await clock.untilArmed()).toBe(true);
      expect([round, scorePosts() - before]).toEqual([round, 1]);
    }
    expect(await outbox.pending()).toHaveLength(10);
    // The first probe that goes through sends everything at once.
    harness.emulator.clearFaults();
    clock.fireNext();
    expect(await outbox.drain(10_000)).toBe(true);
    expect(harness.emulator.scores(launches[0]!.lineItemId!)).toHaveLength(10);
    expect(clock.pending).toEqual([]);
  });

  it('gives up on a grade still undeliverable after maxAgeMs, moving it to the dead-letter list', async () => {
    await harness.close();
    const clock = new ManualClock();
    outbox = fileOutbox({ dir, maxAgeMs: 1000, retry: { minDelayMs: 50, maxDelayMs: 100 }, ...clock.options() });
    harness = await startHarness({ outbox, retry: { retries: 0 } });
    const gaveUp = new Promise<GradeEventMap['rejected']>((resolve) => harness.grades.on('rejected', resolve));
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 } });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    const queued = await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 });
    expect(queued.status).toBe('queued');
    // Rounds on the outbox's clock until the grade is older than 1 s: 50 ms, then 50-100 ms each, so 11 to 21 of them.
    let rounds = 0;
    while (await clock.untilArmed({ unless: gaveUp })) {
      clock.fireNext();
      rounds += 1;
      expect(rounds).toBeLessThanOrEqual(21);
    }
    expect(rounds).toBeGreaterThanOrEqual(11);
    expect(await gaveUp).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', fromOutbox: true });
    expect(await outbox.drain(10_000)).toBe(true);
    const [failed] = await outbox.failed();
    expect(failed).toMatchObject({ id: (queued as { id: string }).id, createdAt: expect.any(String) });
    expect(failed!.error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', message: expect.stringMatching(/^Gave up after 1 s: /) });
    // Given up at the first failure past maxAgeMs: more than 1 s after it was accepted, and within one round (100 ms) of that.
    const age = Date.parse(failed!.failedAt) - Date.parse(failed!.createdAt);
    expect(age).toBeGreaterThan(1000);
    expect(age).toBeLessThanOrEqual(1100);
    expect(Date.parse(failed!.failedAt)).toBe(clock.now);
    // Nothing is armed any more, so nothing more is ever sent, however long the outbox waits.
    expect(clock.pending).toEqual([]);
    const posts = harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ });
    expect(posts).toBe(rounds + 1);
    clock.advance(7 * 24 * 60 * 60 * 1000);
    await settleCallbacks();
    expect(harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(posts);
    expect(await outbox.pending()).toEqual([]);
  });

  it('sends a grade older than 23 h with the service key, before the ltik can expire', async () => {
    await harness.close();
    // A job file as a previous run left it: accepted 23.5 h ago, its ltik still valid here.
    const fresh = await startHarness({ retry: { retries: 0 } });
    const student = fresh.emulator.launch({ user: { id: 'old-grade' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const token = await fresh.grades.forLaunch(student.ltik).idToken();
    await fresh.grades.close();
    const createdAt = new Date(Date.now() - 23.5 * 60 * 60 * 1000).toISOString();
    // Written as the outbox writes its files: owner-only (anything else is set aside, never delivered).
    await fs.writeFile(
      path.join(dir, 'pending', 'old-job.json'),
      JSON.stringify({
        id: 'old-job',
        createdAt,
        attempts: 0,
        nextAttemptAt: 0,
        draft: {
          ltik: student.ltik,
          serviceKey: student.serviceKey,
          userId: 'old-grade',
          scope: `${token.platform.id}\u0000context:${student.contextId}`,
          fixedLineItemId: student.lineItemId,
          score: { scoreGiven: 4, scoreMaximum: 10, activityProgress: 'Completed', gradingProgress: 'FullyGraded' },
          timestamp: createdAt,
        },
      }),
      { mode: 0o600 },
    );
    fresh.emulator.clearRequests();
    outbox = fileOutbox({ dir });
    const resumed = ltiaasGrades({ ltiaasUrl: fresh.emulator.url, apiKey: fresh.emulator.apiKey, outbox });
    harness = {
      emulator: fresh.emulator,
      grades: resumed,
      close: async () => {
        await resumed.close();
        await fresh.emulator.close();
      },
    };
    expect(await outbox.drain(10_000)).toBe(true);
    expect(harness.emulator.requests.map((r) => `${r.method} ${r.authScheme} ${r.status}`)).toEqual(['POST SERVICE-AUTH-V1 204']);
    expect(harness.emulator.scores(student.lineItemId!, 'old-grade')).toHaveLength(1);
  });

  it('finishes with the service key when the ltik expired while the grade was queued', async () => {
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 } });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    const outcome = await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 9, scoreMaximum: 10 });
    expect(outcome.status).toBe('queued');
    harness.emulator.expireLtik(launch.ltik);
    harness.emulator.clearFaults();
    expect(await outbox.drain(10_000)).toBe(true);
    expect(harness.emulator.scores(launch.lineItemId!).map((s) => s.scoreGiven)).toEqual([9]);
    const delivered = harness.emulator.requests.filter((r) => r.path.endsWith('/scores') && r.status === 204);
    expect(delivered.map((r) => r.authScheme)).toEqual(['SERVICE-AUTH-V1']);
  });

  it('moves a final refusal to the dead-letter list with the LMS message, and can re-queue it', async () => {
    await harness.close();
    const clock = new ManualClock();
    outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 100 }, ...clock.options() });
    harness = await startHarness({ outbox, retry: { retries: 0 } });
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 }, gradable: false });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 2 });
    const rejected: unknown[] = [];
    harness.grades.on('rejected', (event) => rejected.push(event));
    const refused = new Promise((resolve) => harness.grades.on('rejected', resolve));
    const outcome = await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 5, scoreMaximum: 10 });
    expect(outcome.status).toBe('queued');
    // The direct POST got the first 503; one round gets the second, the next one the LMS's refusal.
    let rounds = 0;
    while (await clock.untilArmed({ unless: refused })) {
      clock.fireNext();
      rounds += 1;
      expect(rounds).toBeLessThanOrEqual(2);
    }
    expect(rounds).toBe(2);
    expect(await outbox.drain(10_000)).toBe(true);
    const failed = await outbox.failed();
    expect(failed).toEqual([
      expect.objectContaining({
        id: (outcome as { id: string }).id,
        userId: launch.userId,
        lineItemId: launch.lineItemId,
        scoreGiven: 5,
        error: expect.objectContaining({ code: 'LTIAAS_REJECTED', upstreamStatus: 422, lmsMessage: 'Incorrect score received' }),
      }),
    ]);
    expect(rejected).toEqual([expect.objectContaining({ code: 'LTIAAS_REJECTED', fromOutbox: true, userId: launch.userId })]);
    // Not retried forever: no timer is armed, so nothing more is sent, however long the outbox waits.
    const posts = harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ });
    expect(posts).toBe(3);
    expect(clock.pending).toEqual([]);
    clock.advance(7 * 24 * 60 * 60 * 1000);
    await settleCallbacks();
    expect(harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(posts);

    // Once the student is enrolled properly, a person re-queues it.
    harness.emulator.enroll(launch.contextId, { id: launch.userId, gradable: true });
    expect(await outbox.requeue(failed[0]!.id)).toBe(true);
    expect(await outbox.drain(10_000)).toBe(true);
    expect(await outbox.failed()).toEqual([]);
    expect(harness.emulator.scores(launch.lineItemId!).map((s) => s.scoreGiven)).toEqual([5]);
  });

  it('gives a re-queued grade its whole maxAgeMs again: one refused long ago is not given up at its first failure after the re-queue', async () => {
    await harness.close();
    const clock = new ManualClock();
    outbox = fileOutbox({ dir, maxAgeMs: 60_000, retry: { minDelayMs: 20, maxDelayMs: 100 }, ...clock.options() });
    harness = await startHarness({ outbox, retry: { retries: 0 } });
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 }, gradable: false });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    const refused = new Promise((resolve) => harness.grades.on('rejected', resolve));
    const queued = (await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 7, scoreMaximum: 10 })) as { status: string; id: string };
    expect(queued.status).toBe('queued');
    while (await clock.untilArmed({ unless: refused })) clock.fireNext();
    expect(await outbox.drain(10_000)).toBe(true);
    expect((await outbox.failed()).map((job) => job.id)).toEqual([queued.id]);

    // Two minutes later (past maxAgeMs) the cause is fixed and a person re-queues it; LTIAAS then fails once more.
    clock.advance(120_000);
    harness.emulator.enroll(launch.contextId, { id: launch.userId, gradable: true });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    const delivered = new Promise((resolve) => harness.grades.on('submitted', resolve));
    expect(await outbox.requeue(queued.id)).toBe(true);
    expect((await outbox.pending())[0]).toMatchObject({ id: queued.id, requeuedAt: new Date(clock.now).toISOString() });
    let rounds = 0;
    while (await clock.untilArmed({ unless: delivered })) {
      clock.fireNext();
      rounds += 1;
      expect(rounds).toBeLessThanOrEqual(3);
    }
    expect(await outbox.drain(10_000)).toBe(true);
    expect(await outbox.failed()).toEqual([]);
    expect(harness.emulator.scores(launch.lineItemId!).map((score) => score.scoreGiven)).toEqual([7]);
  });

  it('never shows secrets in pending() or failed() views, nor in events', async () => {
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 } });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    const events: unknown[] = [];
    harness.grades.on('queued', (event) => events.push(event));
    await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 });
    const views = JSON.stringify([await outbox.pending(), await outbox.failed(), events]);
    expect(views).toContain(launch.userId);
    for (const secret of [launch.ltik, launch.serviceKey!, harness.emulator.apiKey]) expect(views).not.toContain(secret);
  });

  it('delivers a direct success\'s backlog at once: a grade that goes through wakes the outbox', async () => {
    await harness.close();
    outbox = fileOutbox({ dir, retry: { minDelayMs: 60_000, maxDelayMs: 60_000 } });
    harness = await startHarness({ outbox, retry: { retries: 0 } });
    const a = harness.emulator.launch({ user: { id: 'a' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const b = harness.emulator.launch({ user: { id: 'b' }, lineItem: a.lineItemId! });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
    expect((await harness.grades.forLaunch(a.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).status).toBe('queued');
    // The outbox would wait a minute; a direct submission that succeeds proves LTIAAS is back.
    expect((await harness.grades.forLaunch(b.ltik).submit({ scoreGiven: 2, scoreMaximum: 10 })).status).toBe('submitted');
    expect(await outbox.drain(5_000)).toBe(true);
    expect(harness.emulator.scores(a.lineItemId!, 'a')).toHaveLength(1);
  });

  it('without an outbox the same failure answers 503 LTIAAS_UNAVAILABLE', async () => {
    const plain = await startHarness({ retry: { retries: 0 } });
    try {
      const app = quizApp(express, plain.grades);
      const launch = plain.emulator.launch();
      await plain.emulator.unreachable();
      const res = await request(app).post(`/quiz/1/finish?ltik=${launch.ltik}`).send({ answers: [] });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('LTIAAS_UNAVAILABLE');
      await plain.emulator.reachable();
    } finally {
      await plain.close();
    }
  });

  it('keeps a refused grade pending (listed, tried again) while the dead-letter list cannot be written, then moves it there', async () => {
    await harness.close();
    const { lines, logger } = capturedLogs();
    outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 100 } });
    harness = await startHarness({ outbox, logger, retry: { retries: 0 } });
    const rejected: unknown[] = [];
    harness.grades.on('rejected', (event) => rejected.push(event));
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 }, gradable: false });
    // failed/ replaced by a regular file: every write into it fails with ENOTDIR, even for root.
    await fs.rm(path.join(dir, 'failed'), { recursive: true });
    await fs.writeFile(path.join(dir, 'failed'), 'not a folder');
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
    const outcome = await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 5, scoreMaximum: 10 });
    expect(outcome.status).toBe('queued');
    const id = (outcome as { id: string }).id;

    // The refusal came and the dead-letter write failed: logged as an error about this job.
    await waitFor(() => lines.some((line) => line.level === 'error' && line.fields.id === id), 10_000);
    expect(await outbox.pending()).toEqual([
      expect.objectContaining({ id, lastError: expect.objectContaining({ code: 'LTIAAS_REJECTED', upstreamStatus: 422, lmsMessage: 'Incorrect score received' }) }),
    ]);
    expect(lines.filter((line) => line.level === 'error').map((line) => line.message)).toContain(
      'outbox: grade refused, but the dead-letter list could not be written; it stays pending and is tried again',
    );
    expect(await pendingFiles()).toEqual([`${id}.json`]);
    expect(rejected).toEqual([]);

    // failed/ is back: the next attempt is refused again and this time lands in the dead-letter list.
    await fs.rm(path.join(dir, 'failed'));
    await fs.mkdir(path.join(dir, 'failed'), { mode: 0o700 });
    expect(await outbox.drain(10_000)).toBe(true);
    expect(await outbox.pending()).toEqual([]);
    expect(await outbox.failed()).toEqual([
      expect.objectContaining({ id, error: expect.objectContaining({ code: 'LTIAAS_REJECTED', upstreamStatus: 422, lmsMessage: 'Incorrect score received' }) }),
    ]);
    expect(rejected).toEqual([expect.objectContaining({ code: 'LTIAAS_REJECTED', fromOutbox: true })]);
  });

  it('never arms a timer longer than setTimeout can hold, even when LTIAAS asks to wait years', async () => {
    await harness.close();
    outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 100 } });
    harness = await startHarness({ outbox, retry: { retries: 0 } });
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await harness.grades.forLaunch(launch.ltik).idToken();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, headers: { 'Retry-After': String(10 ** 8) }, times: Infinity });
    const timers = jest.spyOn(global, 'setTimeout');
    try {
      expect((await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).status).toBe('queued');
      expect(await outbox.pending()).toHaveLength(1);
      const delays = timers.mock.calls.map(([, delay]) => delay ?? 0);
      expect(delays.filter((delay) => delay > MAX_TIMER_DELAY_MS)).toEqual([]);
    } finally {
      timers.mockRestore();
    }
  });

  it('keeps time by the clock and timer it is given: accepted and due times, the next round, and drain()\'s timeout (capped at what a timer holds)', async () => {
    await harness.close();
    const start = Date.UTC(2030, 0, 1);
    const clock = new ManualClock(start);
    outbox = fileOutbox({ dir, retry: { minDelayMs: 60_000, maxDelayMs: 60_000 }, ...clock.options() });
    harness = await startHarness({ outbox, retry: { retries: 0 } });
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await harness.grades.forLaunch(launch.ltik).idToken();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
    expect((await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 6, scoreMaximum: 10 })).status).toBe('queued');
    expect(await outbox.pending()).toEqual([
      expect.objectContaining({ createdAt: new Date(start).toISOString(), nextAttemptAt: new Date(start + 60_000).toISOString(), attempts: 0 }),
    ]);
    expect(clock.pending.map((timer) => timer.delayMs)).toEqual([60_000]);

    // drain() gives up after its timeout on this clock, not on the wall's.
    let drained: boolean | undefined;
    void outbox.drain(5_000).then((answer) => {
      drained = answer;
    });
    await settleCallbacks();
    expect(clock.pending.map((timer) => timer.delayMs)).toEqual([5_000, 60_000]);
    clock.advance(4_999);
    await settleCallbacks();
    expect(drained).toBeUndefined();
    clock.advance(1);
    await settleCallbacks();
    expect(drained).toBe(false);
    expect(clock.pending.map((timer) => timer.delayMs)).toEqual([60_000]);

    // A timeout longer than a timer holds is armed at the longest one instead (a longer one would fire after 1 ms).
    const longDrain = outbox.drain(10 ** 12);
    await settleCallbacks();
    expect(clock.armedDelays.at(-1)).toBe(MAX_TIMER_DELAY_MS);

    // The next round starts when the clock reaches it, and not a millisecond before.
    harness.emulator.clearFaults();
    clock.advance(60_000 - 5_000 - 1);
    expect((await outbox.pending())[0]!.attempts).toBe(0);
    clock.advance(1);
    expect((await outbox.pending())[0]!.attempts).toBe(1);
    expect(await longDrain).toBe(true);
    expect(harness.emulator.scores(launch.lineItemId!).map((score) => score.scoreGiven)).toEqual([6]);
    expect(clock.pending).toEqual([]);
  });

  it('reports its pause on its own clock: stats() counts from the clock it is given, not the wall\'s', async () => {
    await harness.close();
    // Long before the wall clock: a pause measured against Date.now() would read as long over.
    const start = Date.UTC(2001, 0, 1);
    const clock = new ManualClock(start);
    outbox = fileOutbox({ dir, retry: { minDelayMs: 60_000, maxDelayMs: 60_000 }, ...clock.options() });
    harness = await startHarness({ outbox, retry: { retries: 0 } });
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await harness.grades.forLaunch(launch.ltik).idToken();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    expect((await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 2, scoreMaximum: 10 })).status).toBe('queued');
    expect(await outbox.stats!()).toEqual({
      pending: 1,
      failed: 0,
      oldestPendingAt: new Date(start).toISOString(),
      paused: true,
      pausedUntil: new Date(start + 60_000).toISOString(),
      consecutiveFailures: 1,
    });
    // At the due time the probe goes (and fails again): paused from then on, for the next round.
    clock.fireNext();
    expect(await clock.untilArmed()).toBe(true);
    expect(await outbox.stats!()).toMatchObject({ paused: true, pausedUntil: new Date(start + 120_000).toISOString(), consecutiveFailures: 2 });
  });

  it('close() returns once the delivery under way has recorded its outcome, arming no timer to wait for it', async () => {
    await harness.close();
    const clock = new ManualClock();
    outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 100 }, ...clock.options() });
    harness = await startHarness({ outbox, retry: { retries: 0 } });
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await harness.grades.forLaunch(launch.ltik).idToken();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
    expect((await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 4, scoreMaximum: 10 })).status).toBe('queued');
    expect(await pendingFiles()).toHaveLength(1);
    // The next round starts its delivery, and close() is called while it is under way.
    clock.fireNext();
    expect((await outbox.pending())[0]!.attempts).toBe(1);
    const armed = clock.armedDelays.length;
    await outbox.close();
    // Delivered and its file removed before close() returned; the folder's lock is free again.
    expect(harness.emulator.scores(launch.lineItemId!).map((score) => score.scoreGiven)).toEqual([4]);
    expect(await pendingFiles()).toEqual([]);
    expect(clock.armedDelays).toHaveLength(armed);
    await fileOutbox({ dir }).close();
  });

  it('refuses a clock or timer that is not a function, and a setTimeout without its clearTimeout, listing every problem at once', async () => {
    const never = path.join(dir, 'never-created');
    const error = thrownBy(() => fileOutbox({ dir: never, now: 1_700_000_000_000 as never, setTimeout: () => 0, concurrency: 0 }));
    expect(error).toBeInstanceOf(OptionsError);
    expect(error).toMatchObject({ code: 'OPTIONS_INVALID', status: 500 });
    const message = (error as Error).message;
    expect(message).toMatch(/^fileOutbox\(\): 3 problems with the options:\n- /);
    expect(message).toContain('option "now" is invalid: "now" must be of type function; pass a function () => milliseconds since the epoch');
    expect(message).toContain('option "concurrency" is invalid');
    expect(message).toContain('setTimeout and clearTimeout go together: pass both or neither');
    await expect(fs.stat(never)).rejects.toMatchObject({ code: 'ENOENT' });

    const alone = thrownBy(() => storageOutbox({} as OutboxStorage, { clearTimeout: () => undefined }));
    expect(alone).toMatchObject({ code: 'OPTIONS_INVALID', message: 'storageOutbox(): setTimeout and clearTimeout go together: pass both or neither.' });
    // The three together are taken.
    const clock = new ManualClock();
    expect(() => storageOutbox({} as OutboxStorage, clock.options())).not.toThrow();
  });

  it('refuses retry.minDelayMs above retry.maxDelayMs, and a maxDelayMs above one hour, naming the option and the fix', async () => {
    const never = path.join(dir, 'never-created');
    const cases: Array<[{ minDelayMs?: number; maxDelayMs?: number }, string]> = [
      [{ minDelayMs: 5000, maxDelayMs: 1000 }, '"retry.minDelayMs" must be less than or equal to "retry.maxDelayMs"'],
      [{ maxDelayMs: 3_600_001 }, 'option "retry.maxDelayMs" is invalid'],
    ];
    for (const [retry, complaint] of cases) {
      const error = thrownBy(() => fileOutbox({ dir: never, retry }));
      expect(error).toBeInstanceOf(OptionsError);
      expect(error).toMatchObject({ code: 'OPTIONS_INVALID', status: 500 });
      expect((error as Error).message).toContain(complaint);
      expect((error as Error).message).toContain('1 <= minDelayMs <= maxDelayMs <= 3600000');
    }
    // Refused before the folder is touched.
    await expect(fs.stat(never)).rejects.toMatchObject({ code: 'ENOENT' });
    // One hour is allowed; a small maxDelayMs alone brings the default minimum down with it.
    const hourly = fileOutbox({ dir: never, retry: { maxDelayMs: 3_600_000 } });
    await hourly.close();
    const quick = fileOutbox({ dir: never, retry: { maxDelayMs: 500 } });
    await quick.close();
  });

  it('throws the package\'s own errors: OPTIONS_INVALID for an outbox given to a second instance, OUTBOX_UNAVAILABLE (not retryable) for a grade after close()', async () => {
    const second = thrownBy(() => ltiaasGrades({ ltiaasUrl: harness.emulator.url, apiKey: API_KEY, outbox }));
    expect(second).toBeInstanceOf(OptionsError);
    expect(second).toMatchObject({ code: 'OPTIONS_INVALID' });
    await outbox.close();
    const draft = { ltik: 'x', score: { activityProgress: 'Completed', gradingProgress: 'FullyGraded' } };
    const afterClose = await outbox.enqueue(draft as never, new Error('LTIAAS is down')).catch((error: unknown) => error);
    expect(isLtiaasGradesError(afterClose)).toBe(true);
    expect(afterClose).toMatchObject({ code: 'OUTBOX_UNAVAILABLE', status: 503, retryable: false, message: 'The outbox is closed: the grade was not stored.' });
  });

  it('answers 503 (not 202) when the outbox cannot store the grade', async () => {
    const app = quizApp(express, harness.grades);
    const launch = harness.emulator.launch();
    await fs.chmod(path.join(dir, 'pending'), 0o500).catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.writeFile(dir, 'not a folder'); // the outbox folder is gone and a file sits in its place
    await harness.emulator.unreachable();
    const res = await request(app).post(`/quiz/1/finish?ltik=${launch.ltik}`).send({ answers: [] });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('LTIAAS_UNAVAILABLE');
    await harness.emulator.reachable();
    await fs.rm(dir, { force: true });
  });
});
