// The BullMQ outbox when Redis itself fails: a restart (append-only file on) in the middle of a drain loses nothing, and with Redis unreachable a grade that can only be queued answers 503, never 202.
import express from 'express';
import request from 'supertest';
import type { LtiaasGrades } from 'express-ltiaas-grades';
import { startBullmqHarness, until, type BullmqHarness } from './bullmqHarness';
import { startRedisServer, type RedisTestServer } from './redisServer';

jest.setTimeout(120_000);

let server: RedisTestServer;
let harness: BullmqHarness;

beforeAll(async () => {
  server = await startRedisServer({ appendOnly: true });
});

afterAll(async () => {
  await server?.stop();
});

beforeEach(async () => {
  harness = await startBullmqHarness(server);
});

afterEach(async () => {
  // A test that stopped Redis starts it again first: closing a worker waits for Redis.
  await server.start();
  await harness.close();
});

const lab = { label: 'Lab', scoreMaximum: 10 };

function quizApp(grades: LtiaasGrades) {
  const app = express();
  app.use(express.json());
  app.use(grades.middleware());
  app.post('/finish', grades.submitGrade({ score: (req) => ({ scoreGiven: Number(req.query.points), scoreMaximum: 10 }), lineItem: { resourceId: 'faults-quiz', label: 'Quiz', scoreMaximum: 10 } }));
  app.use(grades.errorHandler());
  return app;
}

describe('Redis restarted in the middle of a drain (appendonly yes)', () => {
  it('delivers every grade; a grade sent twice is sent with its one timestamp and score', async () => {
    const { grades, outbox } = harness.instance({ concurrency: 4, retry: { minDelayMs: 20, maxDelayMs: 100 } });
    const launches = Array.from({ length: 60 }, (_, i) => harness.emulator.launch({ user: { id: `r${i}` }, context: { id: 'restart-course' }, lineItem: lab }));
    for (const launch of launches) await grades.forLaunch(launch.ltik).idToken();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    for (const [i, launch] of launches.entries()) expect((await grades.forLaunch(launch.ltik).submit({ scoreGiven: i % 11, scoreMaximum: 10 })).status).toBe('queued');
    harness.emulator.clearRequests();
    harness.emulator.setLatency(50);
    harness.emulator.clearFaults();

    const delivered = () => harness.emulator.requests.filter((entry) => entry.method === 'POST' && entry.path.endsWith('/scores') && entry.status === 204).length;
    await until(() => delivered() >= 15, 30_000, '15 grades delivered');
    const atRestart = delivered();
    await server.restart();
    // In the middle: 45 grades at 4 at a time and 50 ms each take 560 ms at least.
    expect(atRestart).toBeLessThan(60);
    // A job whose fetch was answered just as Redis stopped waits for BullMQ's stalled check (its 30 s lock, checked every 30 s).
    expect(await outbox.drain(90_000)).toBe(true);
    expect(await outbox.failed()).toEqual([]);

    // What the LMS received: every student, each with one timestamp and one score however often it was sent.
    const sent = new Map<string, Set<string>>();
    for (const entry of harness.emulator.requests) {
      if (entry.method !== 'POST' || !entry.path.endsWith('/scores') || entry.status !== 204) continue;
      const score = entry.body as { userId: string; timestamp: string; scoreGiven: number };
      sent.set(score.userId, (sent.get(score.userId) ?? new Set()).add(`${score.timestamp} ${score.scoreGiven}`));
    }
    expect(sent.size).toBe(60);
    for (const [i, launch] of launches.entries()) {
      const versions = [...sent.get(launch.userId)!];
      expect(versions).toHaveLength(1);
      expect(versions[0]!.endsWith(` ${i % 11}`)).toBe(true);
      expect(harness.emulator.scores(launch.lineItemId!, launch.userId).length).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('Redis unreachable', () => {
  it('answers 503 for a grade that can only be queued (not 202), grades directly what LTIAAS takes, and stores nothing it did not acknowledge', async () => {
    const warnings: string[] = [];
    const logger = { warn: (_fields: unknown, message: string) => warnings.push(message) };
    const { grades, outbox } = harness.instance({}, { logger });
    const app = quizApp(grades);
    const queued = harness.emulator.launch({ user: { id: 'queued-before' }, context: { id: 'unreachable-course' } });
    const lost = harness.emulator.launch({ user: { id: 'not-queued' }, context: { id: 'unreachable-course' } });
    const direct = harness.emulator.launch({ user: { id: 'direct' }, context: { id: 'unreachable-course' } });

    // Redis up, LTIAAS down: 202, held in Redis.
    await harness.emulator.unreachable();
    const held = await request(app).post(`/finish?ltik=${queued.ltik}&points=4`);
    expect(held.status).toBe(202);
    expect(held.body).toMatchObject({ status: 'queued' });

    // Redis and LTIAAS down: the grade is not delivered and cannot be held, so the student is told.
    await server.kill();
    const refused = await request(app).post(`/finish?ltik=${lost.ltik}&points=6`);
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({ error: { code: 'LTIAAS_UNAVAILABLE', message: expect.any(String) } });
    expect(await request(app).post(`/finish?ltik=${lost.ltik}&points=6`).then((again) => again.status)).toBe(503);
    // Said once per outage of Redis, however many commands failed.
    expect(warnings.filter((message) => message.includes('Redis is unreachable'))).toHaveLength(1);

    // Redis down, LTIAAS up: direct grading needs no Redis.
    await harness.emulator.reachable();
    const graded = await request(app).post(`/finish?ltik=${direct.ltik}&points=9`);
    expect(graded.status).toBe(200);
    expect(graded.body).toMatchObject({ status: 'submitted', scoreGiven: 9 });

    // Redis back: the grade held before is delivered, the refused one was never stored.
    await server.start();
    expect(await outbox.drain(30_000)).toBe(true);
    const [column] = harness.emulator.lineItems({ contextId: 'unreachable-course' });
    expect(column!.scores.map((score) => `${score.userId} ${score.scoreGiven}`).sort()).toEqual(['direct 9', 'queued-before 4']);
  });
});
