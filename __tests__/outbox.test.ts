// The durable outbox: 202 queued when LTIAAS fails, delivered later, dead letters, service key after the ltik expires.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import express from 'express';
import { fileOutbox, isLtiaasGradesError, ltiaasGrades, OptionsError, type GradeOutbox, type Logger } from 'express-ltiaas-grades';
import { API_KEY, quizApp, startHarness, type Harness } from './helpers/harness';
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
    harness = await startHarness({ outbox, timeoutMs: 300, retry: { retries: 1, minDelayMs: 5, maxDelayMs: 20 } });
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
    const launch = harness.emulator.launch({ user: { id: 'early' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const grades = harness.grades.forLaunch(launch.ltik);
    await harness.emulator.unreachable();
    expect((await grades.submit({ scoreGiven: 2, scoreMaximum: 10 })).status).toBe('queued');
    expect((await grades.submit({ scoreGiven: 3, scoreMaximum: 10 })).status).toBe('queued');
    const finished = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await harness.emulator.reachable();
    expect(await outbox.drain(10_000)).toBe(true);
    const sent = harness.emulator.requests
      .filter((r) => r.path.endsWith('/scores') && r.status === 204)
      .map((r) => r.body as { timestamp: string; scoreGiven: number });
    expect(sent).toHaveLength(2);
    for (const score of sent) expect(Date.parse(score.timestamp)).toBeLessThanOrEqual(finished);
    // The second attempt is the newer score, whichever was delivered first: the LMS keeps 3.
    const newest = [...sent].sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp))[0]!;
    expect(newest.scoreGiven).toBe(3);
    expect(harness.emulator.scores(launch.lineItemId!, 'early').at(-1)!.scoreGiven).toBe(3);
  });

  it('probes with one grade per round while LTIAAS keeps failing, instead of sending every grade', async () => {
    await harness.close();
    outbox = fileOutbox({ dir, retry: { minDelayMs: 100, maxDelayMs: 200 } });
    harness = await startHarness({ outbox, retry: { retries: 0 } });
    const launches = Array.from({ length: 10 }, (_, i) => harness.emulator.launch({ user: { id: `p${i}` }, lineItem: { label: 'Lab', scoreMaximum: 10 } }));
    for (const launch of launches) await harness.grades.forLaunch(launch.ltik).idToken();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    for (const launch of launches) expect((await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).status).toBe('queued');
    const direct = harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ });
    await new Promise((resolve) => setTimeout(resolve, 700));
    const probes = harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ }) - direct;
    // At most one probe per 100-200 ms round: 7 at the very most in 700 ms, never 10 per round.
    expect(probes).toBeGreaterThanOrEqual(1);
    expect(probes).toBeLessThanOrEqual(7);
    harness.emulator.clearFaults();
    expect(await outbox.drain(10_000)).toBe(true);
  });

  it('gives up on a grade still undeliverable after maxAgeMs, moving it to the dead-letter list', async () => {
    await harness.close();
    outbox = fileOutbox({ dir, maxAgeMs: 1000, retry: { minDelayMs: 50, maxDelayMs: 100 } });
    harness = await startHarness({ outbox, retry: { retries: 0 } });
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 } });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    expect((await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).status).toBe('queued');
    expect(await outbox.drain(10_000)).toBe(true);
    const [failed] = await outbox.failed();
    expect(failed!.error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', message: expect.stringMatching(/^Gave up after/) });
    expect(Date.parse(failed!.failedAt) - Date.parse(failed!.createdAt)).toBeGreaterThanOrEqual(1000);
    const posts = harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(posts);
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
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 }, gradable: false });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 2 });
    const rejected: unknown[] = [];
    harness.grades.on('rejected', (event) => rejected.push(event));
    const outcome = await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 5, scoreMaximum: 10 });
    expect(outcome.status).toBe('queued');
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
    // Not retried forever: nothing more is sent.
    const posts = harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(posts);

    // Once the student is enrolled properly, a person re-queues it.
    harness.emulator.enroll(launch.contextId, { id: launch.userId, gradable: true });
    expect(await outbox.requeue(failed[0]!.id)).toBe(true);
    expect(await outbox.drain(10_000)).toBe(true);
    expect(await outbox.failed()).toEqual([]);
    expect(harness.emulator.scores(launch.lineItemId!).map((s) => s.scoreGiven)).toEqual([5]);
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
