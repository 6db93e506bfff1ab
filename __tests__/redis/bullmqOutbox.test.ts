// bullmqOutbox() against a real redis-server and the emulator: 202 only after Redis took the job, jobs encrypted, one job per grade, the dead-letter list.
import { JobCipher } from '../../src/outbox/jobCipher';
import { bullmqOutbox, startOutboxWorker } from '../../src/redis';
import { ENCRYPTION_KEY, everythingIn, startBullmqHarness, until, type BullmqHarness } from './bullmqHarness';
import { startRedisServer, type RedisTestServer } from './redisServer';

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

const lab = { label: 'Lab', scoreMaximum: 10 };

describe('bullmqOutbox', () => {
  it('queues a grade LTIAAS could not take, and delivers it once LTIAAS answers again', async () => {
    const { grades, outbox } = harness.instance();
    const launch = harness.emulator.launch({ user: { id: 'ada' }, lineItem: lab });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    const outcome = await grades.forLaunch(launch.ltik).submit({ scoreGiven: 7, scoreMaximum: 10 });
    expect(outcome).toMatchObject({ status: 'queued', id: expect.stringMatching(/^g[0-9a-f]{40}$/) });
    expect(await outbox.drain(20_000)).toBe(true);
    expect(harness.emulator.scores(launch.lineItemId!, 'ada').map((score) => score.scoreGiven)).toEqual([7]);
    expect(await outbox.stats()).toMatchObject({ pending: 0, failed: 0, paused: false, consecutiveFailures: 0 });
    // grades.status() reads the queue's counts through stats().
    expect((await grades.status()).outbox).toMatchObject({ pending: 0, failed: 0, paused: false, consecutiveFailures: 0 });
  });

  it('answers queued only once Redis acknowledged the job: while Redis holds writes back, the grade waits', async () => {
    const { grades } = harness.instance();
    const redis = server.client();
    const launch = harness.emulator.launch({ user: { id: 'held' }, lineItem: lab });
    await grades.forLaunch(launch.ltik).idToken();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    // Redis answers reads but holds every write for 3 s: a job reported before Redis took it would not exist yet.
    await redis.client('PAUSE', 3000, 'WRITE');
    const outcome = await grades.forLaunch(launch.ltik).submit({ scoreGiven: 4, scoreMaximum: 10 });
    const id = (outcome as { id: string }).id;
    expect(await redis.exists(`bull:${harness.queueName}:${id}`)).toBe(1);
    await redis.client('UNPAUSE');
  });

  it('keeps no ltik, service key, user id, score or comment in clear anywhere in Redis', async () => {
    const { grades, outbox } = harness.instance();
    const student = harness.emulator.launch({ user: { id: 'student-4f1c9e' }, lineItem: lab });
    const refused = harness.emulator.launch({ user: { id: 'student-b27d03' }, lineItem: lab, gradable: false });
    for (const launch of [student, refused]) await grades.forLaunch(launch.ltik).idToken();
    // One grade refused by the LMS after a while in the queue, kept as failed; the other still pending.
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    await grades.forLaunch(refused.ltik).submit({ scoreGiven: 2.6875, scoreMaximum: 10, comment: 'comment-unique-55aa' });
    await until(async () => (await outbox.failed()).length === 1, 20_000, 'the refused grade on the dead-letter list');
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    await grades.forLaunch(student.ltik).submit({ scoreGiven: 7.3125, scoreMaximum: 10, comment: 'comment-unique-8d1e' });
    expect((await outbox.pending()).map((job) => job.userId)).toEqual(['student-4f1c9e']);
    const stored = await everythingIn(server.client());
    expect(stored).toContain(`bull:${harness.queueName}:`);
    for (const secret of [student.ltik, student.serviceKey!, refused.ltik, refused.serviceKey!, 'student-4f1c9e', 'student-b27d03', '7.3125', '2.6875', 'comment-unique', 'Incorrect score received', harness.emulator.apiKey, ENCRYPTION_KEY]) {
      expect([secret, stored.includes(secret)]).toEqual([secret, false]);
    }
    // The views show what a person needs, and no secret.
    const views = JSON.stringify([await outbox.pending(), await outbox.failed()]);
    expect(views).toContain('student-4f1c9e');
    expect(views).toContain('Incorrect score received');
    for (const secret of [student.ltik, student.serviceKey!, refused.ltik, refused.serviceKey!]) expect(views).not.toContain(secret);
  });

  it('makes one job of one grade enqueued twice', async () => {
    const { outbox } = harness.instance({ worker: false });
    const grade = { ltik: 'ltik-of-a-launch', score: { scoreGiven: 1, scoreMaximum: 2, activityProgress: 'Completed', gradingProgress: 'FullyGraded' }, timestamp: '2026-01-01T00:00:00.000Z' } as never;
    const first = await outbox.enqueue(grade, new Error('LTIAAS down'));
    const second = await outbox.enqueue(grade, new Error('LTIAAS down'));
    expect(second.id).toBe(first.id);
    const other = await outbox.enqueue({ ...(grade as object), timestamp: '2026-01-01T00:00:01.000Z' } as never, new Error('LTIAAS down'));
    expect(other.id).not.toBe(first.id);
    expect((await outbox.pending()).map((job) => job.id).sort()).toEqual([first.id, other.id].sort());
    const pending = await outbox.pending();
    expect(await outbox.stats()).toMatchObject({ pending: 2, failed: 0, oldestPendingAt: pending.find((job) => job.id === first.id)!.createdAt });
  });

  it('stores the grade record whole, fields it does not know included (a trace context, a newer release\'s field)', async () => {
    const { outbox } = harness.instance({ worker: false });
    const grade = {
      ltik: 'ltik-whole-record',
      score: { scoreGiven: 3, scoreMaximum: 4, activityProgress: 'Completed', gradingProgress: 'FullyGraded' },
      timestamp: '2026-02-01T00:00:00.000Z',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      addedByANewerRelease: { kept: true },
    };
    const { id } = await outbox.enqueue(grade as never, new Error('LTIAAS down'));
    const data = JSON.parse((await server.client().hget(`bull:${harness.queueName}:${id}`, 'data'))!) as { sealed: string };
    expect(new JobCipher(ENCRYPTION_KEY).open(data.sealed, id)).toMatchObject({ v: 1, id, attempts: 0, grade });
  });

  it('gives up on a grade still undeliverable after maxAgeMs, keeping it as failed', async () => {
    const { grades, outbox } = harness.instance({ maxAgeMs: 1000, retry: { minDelayMs: 50, maxDelayMs: 100 } });
    const launch = harness.emulator.launch({ user: { id: 'too-old' }, lineItem: lab });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    expect((await grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).status).toBe('queued');
    await until(async () => (await outbox.failed()).length === 1, 20_000, 'the grade given up');
    const [failed] = await outbox.failed();
    expect(failed!.error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', message: expect.stringMatching(/^Gave up after 1 s: /) });
    expect(Date.parse(failed!.failedAt) - Date.parse(failed!.createdAt)).toBeGreaterThanOrEqual(1000);
    expect(await outbox.stats()).toMatchObject({ pending: 0, failed: 1 });
  });

  it('gives a re-queued grade its whole maxAgeMs again: one refused before maxAgeMs ran out is not given up at its first failure after the re-queue', async () => {
    const { grades, outbox } = harness.instance({ maxAgeMs: 1000, retry: { minDelayMs: 50, maxDelayMs: 100 } });
    const launch = harness.emulator.launch({ user: { id: 'requeued-late' }, lineItem: lab, gradable: false });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    const queued = (await grades.forLaunch(launch.ltik).submit({ scoreGiven: 8, scoreMaximum: 10 })) as { status: string; id: string };
    expect(queued.status).toBe('queued');
    await until(async () => (await outbox.failed()).length === 1, 20_000, 'the refusal on the failed list');
    const [failed] = await outbox.failed();
    // Only the grade's age matters here, and it only grows: more than maxAgeMs since it was accepted.
    await until(() => Date.now() - Date.parse(failed!.createdAt) > 1000, 10_000, 'the grade older than maxAgeMs');
    harness.emulator.enroll(launch.contextId, { id: 'requeued-late', gradable: true });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    expect(await outbox.requeue(queued.id)).toBe(true);
    await until(() => harness.emulator.scores(launch.lineItemId!, 'requeued-late').length === 1, 20_000, 'the re-queued grade delivered');
    expect(harness.emulator.scores(launch.lineItemId!, 'requeued-late').map((score) => score.scoreGiven)).toEqual([8]);
    expect(await outbox.failed()).toEqual([]);
  });

  it('takes ioredis connection options instead of a client', async () => {
    const { grades, outbox } = harness.instance({ connection: { host: '127.0.0.1', port: server.port, disconnectTimeout: 0 } });
    const launch = harness.emulator.launch({ user: { id: 'by-options' }, lineItem: lab });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    expect((await grades.forLaunch(launch.ltik).submit({ scoreGiven: 2, scoreMaximum: 10 })).status).toBe('queued');
    expect(await outbox.drain(20_000)).toBe(true);
    expect(harness.emulator.scores(launch.lineItemId!, 'by-options')).toHaveLength(1);
  });

  it('keeps a final refusal as a failed job with the LMS message; requeue() sends it again, discard() removes it', async () => {
    const { grades, outbox } = harness.instance();
    const rejected: unknown[] = [];
    grades.on('rejected', (event) => rejected.push(event));
    const launch = harness.emulator.launch({ user: { id: 'not-enrolled' }, lineItem: lab, gradable: false });
    const other = harness.emulator.launch({ user: { id: 'given-up' }, lineItem: lab, gradable: false });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 2 });
    const first = (await grades.forLaunch(launch.ltik).submit({ scoreGiven: 5, scoreMaximum: 10 })) as { id: string };
    const second = (await grades.forLaunch(other.ltik).submit({ scoreGiven: 6, scoreMaximum: 10 })) as { id: string };
    await until(async () => (await outbox.failed()).length === 2, 20_000, 'two failed jobs');
    const failed = await outbox.failed();
    expect(failed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id: first.id,
          userId: 'not-enrolled',
          lineItemId: launch.lineItemId,
          scoreGiven: 5,
          failedAt: expect.any(String),
          error: expect.objectContaining({ code: 'LTIAAS_REJECTED', upstreamStatus: 422, lmsMessage: 'Incorrect score received' }),
        }),
      ]),
    );
    await until(() => rejected.length === 2, 10_000, 'two rejected events');
    expect(rejected).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'LTIAAS_REJECTED', fromOutbox: true, userId: 'not-enrolled' })]));
    expect(await outbox.stats()).toMatchObject({ pending: 0, failed: 2 });

    harness.emulator.enroll(launch.contextId, { id: 'not-enrolled', gradable: true });
    expect(await outbox.requeue(first.id)).toBe(true);
    expect(await outbox.drain(20_000)).toBe(true);
    expect(harness.emulator.scores(launch.lineItemId!, 'not-enrolled').map((score) => score.scoreGiven)).toEqual([5]);

    expect(await outbox.discard(second.id)).toBe(true);
    expect(await outbox.failed()).toEqual([]);
    expect(await outbox.requeue(second.id)).toBe(false);
    expect(await outbox.discard(second.id)).toBe(false);
    expect(await outbox.requeue('no-such-job')).toBe(false);
    expect(await outbox.discard('../not:an-id')).toBe(false);
  });

  it('with worker: false only queues; startOutboxWorker() in another process delivers through that process\'s client', async () => {
    const web = harness.instance({ worker: false });
    const launch = harness.emulator.launch({ user: { id: 'apart' }, lineItem: lab });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    expect((await web.grades.forLaunch(launch.ltik).submit({ scoreGiven: 3, scoreMaximum: 10 })).status).toBe('queued');
    const inspect = bullmqOutbox({ connection: server.client(), encryptionKey: ENCRYPTION_KEY, queueName: harness.queueName, worker: false });
    const queueWorkers = async () => {
      const { Queue } = await import('bullmq');
      const queue = new Queue(harness.queueName, { connection: server.client() });
      const workers = await queue.getWorkers();
      await queue.close();
      return workers.length;
    };
    expect(await queueWorkers()).toBe(0);
    expect((await web.outbox.pending()).map((job) => job.userId)).toEqual(['apart']);

    const deliverer = harness.instance({ worker: false });
    await expect(startOutboxWorker(inspect)).rejects.toMatchObject({ code: 'OPTIONS_INVALID', message: expect.stringContaining('connect the outbox first') });
    await startOutboxWorker(deliverer.outbox);
    expect(await queueWorkers()).toBe(1);
    expect(await web.outbox.drain(20_000)).toBe(true);
    expect(harness.emulator.scores(launch.lineItemId!, 'apart').map((score) => score.scoreGiven)).toEqual([3]);
    await expect(startOutboxWorker({} as never)).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
    await inspect.close();
  });

  it('never closes the application\'s own client, and closes the connections it opened', async () => {
    const redis = server.client();
    const connected = async () => Number(/connected_clients:(\d+)/.exec(await redis.info('clients'))![1]);
    const before = await connected();
    const { grades, outbox } = harness.instance({ connection: redis });
    await outbox.stats();
    // Its own: one for enqueue and the lists, one for the worker, and BullMQ's blocking one.
    await until(async () => (await connected()) === before + 3, 10_000, 'the outbox\'s three connections');
    await grades.close();
    await until(async () => (await connected()) === before, 10_000, 'the outbox\'s connections closed');
    expect(redis.status).toBe('ready');
    expect(await redis.ping()).toBe('PONG');
  });
});
