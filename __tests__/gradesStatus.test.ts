// grades.status(): the outbox's counts and LTIAAS's reachability as last seen, one state for a health check that LTIAAS being down does not fail while the outbox holds grades.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { fileOutbox, ltiaasClient, type GradeOutbox, type GradesStatus, type LtiaasGrades, type Outbox } from 'express-ltiaas-grades';
import { API_KEY, EXPRESS_VERSIONS, startHarness, type Harness } from './helpers/harness';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The health check the README shows: fails only when the tool itself cannot keep grades. */
function withHealthCheck(expressLib: (typeof EXPRESS_VERSIONS)[number][1], grades: LtiaasGrades) {
  const app = expressLib();
  app.get('/healthz', async (_req, res) => {
    const status = await grades.status();
    res.status(status.state === 'unhealthy' ? 503 : 200).json({ state: status.state, problems: status.problems.map((problem) => problem.code) });
  });
  return app;
}

/** The Outbox methods of `outbox`, with `stats` replaced (or left out when undefined). */
function withStats(outbox: GradeOutbox, stats?: () => Promise<unknown>): Outbox {
  return {
    connect: (worker) => outbox.connect(worker),
    enqueue: (grade, reason) => outbox.enqueue(grade, reason),
    wake: () => outbox.wake(),
    pending: () => outbox.pending(),
    failed: () => outbox.failed(),
    requeue: (id) => outbox.requeue(id),
    discard: (id) => outbox.discard(id),
    close: () => outbox.close(),
    ...(stats ? { stats: stats as Outbox['stats'] } : {}),
  };
}

describe('grades.status()', () => {
  let harness: Harness | undefined;
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'status-'));
  });
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
    // Only ever the folder this test made with mkdtemp.
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('is ok on a fresh instance, with empty counts and nothing seen of LTIAAS', async () => {
    harness = await startHarness({ outbox: fileOutbox({ dir }) });
    const status = await harness.grades.status();
    expect(status).toEqual({
      state: 'ok',
      problems: [],
      checkedAt: expect.stringMatching(ISO),
      ltiaas: { consecutiveFailures: 0 },
      outbox: { pending: 0, failed: 0, paused: false, consecutiveFailures: 0 },
    });
  });

  it.each(EXPRESS_VERSIONS)(
    'on %s: while LTIAAS is down and the outbox holds a grade it is degraded, and the health check still answers 200; once LTIAAS answers, ok again',
    async (_name, expressLib) => {
      // A long backoff: the outbox stays paused while the test looks.
      const outbox = fileOutbox({ dir, retry: { minDelayMs: 30_000, maxDelayMs: 60_000 } });
      const h = await startHarness({ outbox });
      harness = h;
      const app = withHealthCheck(expressLib, h.grades);
      const launch = h.emulator.launch({ user: { id: 'held' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
      await h.emulator.unreachable();
      const before = Date.now();
      const queued = await h.grades.forLaunch(launch.ltik).submit({ scoreGiven: 6, scoreMaximum: 10 });
      expect(queued).toMatchObject({ status: 'queued' });

      const down = await h.grades.status();
      expect(down.state).toBe('degraded');
      expect(down.problems.map((problem) => problem.code)).toEqual(['LTIAAS_FAILING', 'OUTBOX_PAUSED']);
      expect(down.problems[0]!.message).toContain('the outbox holds grades until it answers');
      expect(down.ltiaas).toEqual({
        lastFailureAt: expect.stringMatching(ISO),
        lastFailure: { endpoint: '/api/idtoken', errorType: 'ECONNREFUSED' },
        consecutiveFailures: 1,
      });
      const [job] = await outbox.pending();
      expect(down.outbox).toEqual({
        pending: 1,
        failed: 0,
        oldestPendingAt: job!.createdAt,
        oldestPendingAgeMs: expect.any(Number),
        paused: true,
        pausedUntil: expect.stringMatching(ISO),
        consecutiveFailures: 1,
      });
      expect(Date.parse(down.outbox!.pausedUntil!)).toBeGreaterThan(before);
      expect(down.outbox!.oldestPendingAgeMs).toBeGreaterThanOrEqual(0);
      const health = await request(app).get('/healthz');
      expect([health.status, health.body]).toEqual([200, { state: 'degraded', problems: ['LTIAAS_FAILING', 'OUTBOX_PAUSED'] }]);

      // LTIAAS is back: a direct submission goes through and wakes the outbox, which delivers the held grade.
      await h.emulator.reachable();
      await h.grades.forLaunch(launch.ltik).submit({ scoreGiven: 7, scoreMaximum: 10 });
      expect(await outbox.drain(10_000)).toBe(true);
      const up = await h.grades.status();
      expect(up).toMatchObject({ state: 'ok', problems: [], outbox: { pending: 0, failed: 0, paused: false, consecutiveFailures: 0 } });
      expect(up.outbox).not.toHaveProperty('oldestPendingAt');
      expect(up.ltiaas).toEqual({ lastSuccessAt: expect.stringMatching(ISO), lastFailureAt: down.ltiaas.lastFailureAt, lastFailure: down.ltiaas.lastFailure, consecutiveFailures: 0 });
      expect((await request(app).get('/healthz')).status).toBe(200);
    },
  );

  it('counts refused grades as a problem for a person (degraded), and names the 5xx and 429 LTIAAS answered as failures', async () => {
    const outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 50 } });
    const h = await startHarness({ outbox });
    harness = h;
    const student = h.emulator.launch({ user: { id: 'learner' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const teacher = h.emulator.launch({ user: { id: 'teacher' }, role: 'instructor', lineItem: student.lineItemId! });
    h.emulator.fail({ method: 'POST', path: /\/scores$/, status: 429 });
    await expect(h.grades.forLaunch(teacher.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).resolves.toMatchObject({ status: 'queued' });
    const limited = await h.grades.status();
    expect(limited.ltiaas.lastFailure).toEqual({ endpoint: '/api/lineitems/:lineItemId/scores', errorType: '429', status: 429 });
    expect(await outbox.drain(10_000)).toBe(true);

    const status = await h.grades.status();
    expect(status.state).toBe('degraded');
    expect(status.problems).toEqual([{ code: 'GRADES_REFUSED', message: expect.stringContaining('1 grade was refused for good') }]);
    expect(status.outbox).toMatchObject({ pending: 0, failed: 1 });
    // The LMS's refusal is an answer: LTIAAS is reachable.
    expect(status.ltiaas.consecutiveFailures).toBe(0);
    const text = JSON.stringify(status);
    for (const secret of [API_KEY, student.ltik, teacher.ltik, teacher.serviceKey!]) expect(text).not.toContain(secret);
  });

  it.each(EXPRESS_VERSIONS)('on %s: is unhealthy (503 from the health check) only when the outbox cannot be read, and never rejects nor repeats a foreign error', async (_name, expressLib) => {
    const secretish = 'redis://user:hunter2-very-secret@cache.internal:6379';
    const broken = withStats(fileOutbox({ dir }), () => Promise.reject(new Error(`cannot reach ${secretish}`)));
    const h = await startHarness({ outbox: broken });
    harness = h;
    const status = await h.grades.status();
    expect(status.state).toBe('unhealthy');
    expect(status.outbox).toEqual({ error: { code: 'OUTBOX_UNAVAILABLE', message: expect.stringContaining('could not be read') } });
    expect(status.problems.map((problem) => problem.code)).toEqual(['OUTBOX_UNREADABLE']);
    expect(JSON.stringify(status)).not.toContain('hunter2');
    const health = await request(withHealthCheck(expressLib, h.grades)).get('/healthz');
    expect([health.status, health.body.state]).toEqual([503, 'unhealthy']);
  });

  it('refuses a stats() answer without sound counts rather than guess', async () => {
    const h = await startHarness({ outbox: withStats(fileOutbox({ dir }), async () => ({ pending: -1, failed: 'none' })) });
    harness = h;
    const status = await h.grades.status();
    expect(status.state).toBe('unhealthy');
    expect(status.outbox).not.toHaveProperty('pending');
  });

  it('counts an outbox without stats() through pending() and failed(), and leaves out what only stats() can tell', async () => {
    const outbox = fileOutbox({ dir, retry: { minDelayMs: 30_000, maxDelayMs: 60_000 } });
    const h = await startHarness({ outbox: withStats(outbox) });
    harness = h;
    const launch = h.emulator.launch({ user: { id: 'listed' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await h.emulator.unreachable();
    await h.grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 });
    const [job] = await outbox.pending();
    const status = await h.grades.status();
    expect(status.outbox).toEqual({ pending: 1, failed: 0, oldestPendingAt: job!.createdAt, oldestPendingAgeMs: expect.any(Number) });
    // Without stats() nobody says the outbox is paused: LTIAAS failing is the problem reported.
    expect(status.problems.map((problem) => problem.code)).toEqual(['LTIAAS_FAILING']);
  });

  it('without an outbox: no outbox part, and LTIAAS failing is degraded, saying grades are answered as not delivered', async () => {
    const h = await startHarness();
    harness = h;
    const launch = h.emulator.launch({ user: { id: 'nobox' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    h.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
    await expect(h.grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).rejects.toMatchObject({ code: 'LTIAAS_UNAVAILABLE' });
    const status: GradesStatus = await h.grades.status();
    expect(status).not.toHaveProperty('outbox');
    expect(status.state).toBe('degraded');
    expect(status.problems[0]!.message).toContain('without an outbox, grades are answered as not delivered (503)');
    expect(status.ltiaas).toMatchObject({ lastSuccessAt: expect.stringMatching(ISO), consecutiveFailures: 1, lastFailure: { errorType: '503', status: 503 } });
  });

  it('is on ltiaasClient() too', async () => {
    const h = await startHarness();
    harness = h;
    const client = ltiaasClient({ ltiaasUrl: h.emulator.url, apiKey: API_KEY, outbox: fileOutbox({ dir }) });
    try {
      await expect(client.status()).resolves.toMatchObject({ state: 'ok', outbox: { pending: 0, failed: 0 } });
    } finally {
      await client.close();
    }
  });
});
