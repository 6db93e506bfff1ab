// grades.status() over a BullMQ outbox on a real redis-server: while LTIAAS is down every instance reports the queue's shared pause (paused, pausedUntil, consecutiveFailures) and stays healthy; ok again once LTIAAS answers.
import express from 'express';
import request from 'supertest';
import type { LtiaasGrades } from 'express-ltiaas-grades';
import { startBullmqHarness, until, type BullmqHarness } from './bullmqHarness';
import { startRedisServer, type RedisTestServer } from './redisServer';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const lab = { label: 'Lab', scoreMaximum: 10 };
// A long backoff: the queue stays paused while the test looks.
const LONG_PAUSE = { minDelayMs: 30_000, maxDelayMs: 60_000 };

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

/** The health check the README shows: fails only when the tool itself cannot keep grades. */
function withHealthCheck(grades: LtiaasGrades) {
  const app = express();
  app.get('/healthz', async (_req, res) => {
    const status = await grades.status();
    res.status(status.state === 'unhealthy' ? 503 : 200).json({ state: status.state, problems: status.problems.map((problem) => problem.code) });
  });
  return app;
}

describe('grades.status() over a BullMQ outbox', () => {
  it('while LTIAAS is down, is degraded with the queue\'s pause on every instance (paused, pausedUntil, consecutiveFailures) and the health check answers 200; once LTIAAS answers, ok again', async () => {
    const first = harness.instance({ retry: LONG_PAUSE });
    const second = harness.instance({ retry: LONG_PAUSE });
    const held = harness.emulator.launch({ user: { id: 'held' }, lineItem: lab });
    const later = harness.emulator.launch({ user: { id: 'later' }, lineItem: held.lineItemId! });
    await harness.emulator.unreachable();
    const before = Date.now();
    expect(await first.grades.forLaunch(held.ltik).submit({ scoreGiven: 6, scoreMaximum: 10 })).toMatchObject({ status: 'queued' });

    const down = await first.grades.status();
    expect(down.state).toBe('degraded');
    expect(down.problems.map((problem) => problem.code)).toEqual(['LTIAAS_FAILING', 'OUTBOX_PAUSED']);
    expect(down.ltiaas).toMatchObject({ lastFailure: { endpoint: '/api/idtoken', errorType: 'ECONNREFUSED' }, consecutiveFailures: 1 });
    const [job] = await first.outbox.pending();
    expect(down.outbox).toEqual({
      pending: 1,
      failed: 0,
      oldestPendingAt: job!.createdAt,
      oldestPendingAgeMs: expect.any(Number),
      paused: true,
      pausedUntil: expect.stringMatching(ISO),
      consecutiveFailures: 1,
    });
    // The pause is the queue's, on Redis's clock: at least retry.minDelayMs after the failure, at most maxDelayMs.
    const pausedUntil = Date.parse(down.outbox!.pausedUntil!);
    expect(pausedUntil).toBeGreaterThanOrEqual(before + LONG_PAUSE.minDelayMs);
    expect(pausedUntil).toBeLessThanOrEqual(Date.now() + LONG_PAUSE.maxDelayMs);
    expect(down.problems[1]!.message).toContain(`until ${down.outbox!.pausedUntil} after 1 failure in a row, then tries one grade.`);

    // Another instance, which saw LTIAAS fail itself never, reports the same shared pause.
    const elsewhere = await second.grades.status();
    expect(elsewhere.ltiaas).toEqual({ consecutiveFailures: 0 });
    expect(elsewhere.problems.map((problem) => problem.code)).toEqual(['OUTBOX_PAUSED']);
    expect(elsewhere.outbox).toMatchObject({ pending: 1, failed: 0, oldestPendingAt: job!.createdAt, paused: true, pausedUntil: down.outbox!.pausedUntil, consecutiveFailures: 1 });
    for (const grades of [first.grades, second.grades]) {
      const health = await request(withHealthCheck(grades)).get('/healthz');
      expect(health.status).toBe(200);
      expect(health.body.state).toBe('degraded');
    }

    // LTIAAS is back: a grade that goes through directly lifts the pause for every instance, and the held grade is delivered.
    await harness.emulator.reachable();
    expect(await first.grades.forLaunch(later.ltik).submit({ scoreGiven: 7, scoreMaximum: 10 })).toMatchObject({ status: 'submitted' });
    expect(await first.outbox.drain(20_000)).toBe(true);
    expect(harness.emulator.scores(held.lineItemId!, 'held').map((score) => score.scoreGiven)).toEqual([6]);
    for (const grades of [first.grades, second.grades]) {
      const up = await grades.status();
      expect(up).toMatchObject({ state: 'ok', problems: [], outbox: { pending: 0, failed: 0, paused: false, consecutiveFailures: 0 } });
      expect(up.outbox).not.toHaveProperty('pausedUntil');
      expect(up.outbox).not.toHaveProperty('oldestPendingAt');
      expect((await request(withHealthCheck(grades)).get('/healthz')).body).toEqual({ state: 'ok', problems: [] });
    }
  });

  it('counts each failed probe in consecutiveFailures while LTIAAS stays down, and is ok once a probe gets through', async () => {
    const { grades, outbox } = harness.instance({ retry: { minDelayMs: 50, maxDelayMs: 100 } });
    const held = harness.emulator.launch({ user: { id: 'probed' }, lineItem: lab });
    await harness.emulator.unreachable();
    expect(await grades.forLaunch(held.ltik).submit({ scoreGiven: 3, scoreMaximum: 10 })).toMatchObject({ status: 'queued' });
    await until(async () => ((await grades.status()).outbox?.consecutiveFailures ?? 0) >= 3, 20_000, 'three failures in a row');
    const down = await grades.status();
    expect(down.outbox).toMatchObject({ pending: 1, paused: true });
    const [job] = await outbox.pending();
    expect(job!.lastError).toMatchObject({ code: 'LTIAAS_UNAVAILABLE' });

    await harness.emulator.reachable();
    expect(await outbox.drain(20_000)).toBe(true);
    expect(harness.emulator.scores(held.lineItemId!, 'probed')).toHaveLength(1);
    expect(await grades.status()).toMatchObject({ state: 'ok', problems: [], outbox: { pending: 0, paused: false, consecutiveFailures: 0 } });
  });

  // Last in the file: it stops the file's redis-server (and starts it again).
  it('is unhealthy (OUTBOX_UNREADABLE) while Redis does not answer, the health check then 503, and healthy again once Redis is back', async () => {
    const { grades } = harness.instance();
    const app = withHealthCheck(grades);
    expect((await grades.status()).state).toBe('ok');
    await server.kill();
    try {
      const down = await grades.status();
      expect(down.state).toBe('unhealthy');
      expect(down.problems.map((problem) => problem.code)).toEqual(['OUTBOX_UNREADABLE']);
      expect(down.outbox).toEqual({ error: { code: 'OUTBOX_UNAVAILABLE', message: expect.stringContaining('The outbox could not count its grades') } });
      expect((await request(app).get('/healthz')).status).toBe(503);
    } finally {
      await server.start();
    }
    await until(async () => (await grades.status()).state === 'ok', 20_000, 'the status ok again');
    expect((await request(app).get('/healthz')).body).toEqual({ state: 'ok', problems: [] });
  });
});
