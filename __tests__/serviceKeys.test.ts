// Grading outside a launch: the service key store, ltiaasClient().withServiceKey(), and batches.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import express from 'express';
import { fileOutbox, fileServiceKeyStore, ltiaasClient, type LtiaasClient } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { API_KEY, startHarness, type Harness } from './helpers/harness';

async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('service key store', () => {
  let harness: Harness;
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keys-'));
  });
  afterEach(async () => {
    await harness.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('records the service key of each launch with grades, by platform, context and resource link (file 0600)', async () => {
    const file = path.join(dir, 'keys', 'service-keys.json');
    const store = fileServiceKeyStore({ file });
    harness = await startHarness({ serviceKeyStore: store });
    const app = express();
    app.use(harness.grades.middleware());
    app.get('/launch', (_req, res) => {
      res.send('welcome');
    });
    const graded = harness.emulator.launch({ context: { id: 'c-keys', title: 'Biology' }, resourceLink: { id: 'rl-1', title: 'Lab 1' }, lineItem: { label: 'Lab 1', scoreMaximum: 10 } });
    const ungraded = harness.emulator.launch({ context: { id: 'c-keys' }, resourceLink: { id: 'rl-2' }, grades: false });
    await request(app).get(`/launch?ltik=${graded.ltik}`).expect(200);
    await request(app).get(`/launch?ltik=${ungraded.ltik}`).expect(200);

    const record = await eventually(() => store.get({ platformId: graded.platformId, contextId: 'c-keys', resourceLinkId: 'rl-1' }), Boolean);
    expect(record).toMatchObject({ serviceKey: graded.serviceKey, lineItemId: graded.lineItemId, contextTitle: 'Biology', resourceLinkTitle: 'Lab 1' });
    expect(await store.get({ platformId: graded.platformId, contextId: 'c-keys', resourceLinkId: 'rl-2' })).toBeUndefined();
    expect((await store.list({ contextId: 'c-keys' })).map((r) => r.resourceLinkId)).toEqual(['rl-1']);
    const stat = await eventually(() => fs.stat(file).catch(() => undefined), Boolean);
    expect(stat!.mode & 0o777).toBe(0o600);

    // A fresh store reads the same file back (what a cron job does).
    const reopened = fileServiceKeyStore({ file });
    expect(await reopened.get({ platformId: graded.platformId, contextId: 'c-keys', resourceLinkId: 'rl-1' })).toMatchObject({ serviceKey: graded.serviceKey });
    // The background read is the one the grade will use: no second ID token call.
    await harness.grades.forLaunch(graded.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 });
    expect(harness.emulator.countRequests({ path: '/api/idtoken' })).toBe(2);
  });

  it('rewrites the file only when a key changes or the record ages', async () => {
    const file = path.join(dir, 'k.json');
    const store = fileServiceKeyStore({ file, refreshAfterMs: 60_000 });
    const record = { platformId: 'p', contextId: 'c', resourceLinkId: 'r', serviceKey: 'key-1', updatedAt: new Date().toISOString() };
    await store.save(record);
    // Dated in the past instead of waiting for the clock to tick: any rewrite would show as a new mtime.
    const past = new Date('2020-01-01T00:00:00.000Z');
    await fs.utimes(file, past, past);
    const firstWrite = (await fs.stat(file)).mtimeMs;
    expect(firstWrite).toBe(past.getTime());
    await store.save({ ...record, updatedAt: new Date().toISOString() });
    expect((await fs.stat(file)).mtimeMs).toBe(firstWrite);
    await store.save({ ...record, serviceKey: 'key-2', updatedAt: new Date().toISOString() });
    expect(await store.get(record)).toMatchObject({ serviceKey: 'key-2' });
    expect(JSON.parse(await fs.readFile(file, 'utf8'))).toEqual([expect.objectContaining({ serviceKey: 'key-2' })]);

    // An unchanged record is rewritten once it is older than refreshAfterMs (0 here: every time).
    const eager = fileServiceKeyStore({ file: path.join(dir, 'eager.json'), refreshAfterMs: 0 });
    await eager.save(record);
    const seenLater = new Date(Date.parse(record.updatedAt) + 1000).toISOString();
    await eager.save({ ...record, updatedAt: seenLater });
    expect(JSON.parse(await fs.readFile(path.join(dir, 'eager.json'), 'utf8'))).toEqual([expect.objectContaining({ updatedAt: seenLater })]);
    harness = await startHarness();
  });
});

describe('ltiaasClient().withServiceKey()', () => {
  let emulator: LtiaasEmulator;
  let client: LtiaasClient;
  beforeEach(async () => {
    emulator = await startEmulator({ apiKey: API_KEY, pageSize: 3 });
    client = ltiaasClient({ ltiaasUrl: emulator.url, apiKey: API_KEY, retry: { retries: 0 } });
  });
  afterEach(async () => {
    await client.close();
    await emulator.close();
  });

  it('validates its options like ltiaasGrades and refuses request-only ones', () => {
    expect(() => ltiaasClient({ ltiaasUrl: emulator.url } as never)).toThrow(/ltiaasClient\(\): option "apiKey" is invalid/);
    expect(() => ltiaasClient({ ltiaasUrl: emulator.url, apiKey: API_KEY, ltikSources: ['query'] } as never)).toThrow(/ltikSources/);
    expect(() => client.withServiceKey('')).toThrow(/service key/);
  });

  it('grades a user outside any launch (instructor regrade) with the SERVICE-AUTH-V1 scheme', async () => {
    const launch = emulator.launch({ user: { id: 'late-student' }, context: { id: 'regrade' }, lineItem: { label: 'Essay', scoreMaximum: 20 } });
    emulator.expireLtik(launch.ltik); // days later: the ltik is long gone, the service key is not
    const grades = client.withServiceKey(launch.serviceKey!);
    const listed = await grades.lineItems.listAll();
    expect(listed.map((item) => item.id)).toEqual([launch.lineItemId]);
    const outcome = await grades.submitScore(launch.lineItemId!, { userId: 'late-student', scoreGiven: 17, scoreMaximum: 20, comment: 'Regraded' });
    expect(outcome).toMatchObject({ status: 'submitted', userId: 'late-student', scoreGiven: 17 });
    expect((await grades.scores(launch.lineItemId!, { userId: 'late-student' }))[0]).toMatchObject({ resultScore: 17, comment: 'Regraded' });
    expect(new Set(emulator.requests.map((r) => r.authScheme))).toEqual(new Set(['SERVICE-AUTH-V1']));
  });

  it('grades a batch of 50 with 3 ungradable users: 47 submitted, 3 rejected with the LMS message', async () => {
    const launch = emulator.launch({ role: 'instructor', user: { id: 'teacher' }, context: { id: 'batch' }, resourceLink: { id: 'lab-link' } });
    const students = Array.from({ length: 47 }, (_, i) => `student-${i}`);
    for (const id of students) emulator.enroll('batch', { id });
    emulator.enroll('batch', { id: 'test-student', gradable: false }); // Canvas's Test Student
    const entries = [
      ...students.map((userId, i) => ({ userId, scoreGiven: i % 11, scoreMaximum: 10 })),
      { userId: 'teacher', scoreGiven: 10, scoreMaximum: 10 },
      { userId: 'test-student', scoreGiven: 10, scoreMaximum: 10 },
      { userId: 'unenrolled', scoreGiven: 10, scoreMaximum: 10 },
    ];
    const outcomes = await client
      .withServiceKey(launch.serviceKey!)
      .submitMany(entries, { lineItem: { resourceId: 'lab-3', label: 'Lab 3', scoreMaximum: 10 } });

    expect(outcomes).toHaveLength(50);
    expect(outcomes.filter((o) => o.status === 'submitted')).toHaveLength(47);
    const rejected = outcomes.filter((o) => o.status === 'rejected');
    expect(rejected.map((o) => o.userId)).toEqual(['teacher', 'test-student', 'unenrolled']);
    for (const outcome of rejected) expect(outcome).toMatchObject({ code: 'LTIAAS_REJECTED', lmsMessage: 'Incorrect score received', upstreamStatus: 422 });
    expect(outcomes.map((o) => o.index)).toEqual(entries.map((_, i) => i));
    const [column] = emulator.lineItems({ contextId: 'batch' });
    expect(column).toMatchObject({ resourceId: 'lab-3' });
    expect(column!.resourceLinkId).toBeUndefined();
    expect(emulator.scores(column!.id)).toHaveLength(47);
    expect(emulator.countRequests({ method: 'POST', path: '/api/lineitems' })).toBe(1);
    // Bounded concurrency: never more connections than the default of 8 parallel posts.
    expect(emulator.connectionCount).toBeLessThanOrEqual(8);
  });

  it('reports an invalid entry as rejected without sending it, and honours a smaller concurrency', async () => {
    const launch = emulator.launch({ context: { id: 'batch-2' }, lineItem: { label: 'Quiz', scoreMaximum: 5 } });
    for (let i = 0; i < 6; i++) emulator.enroll('batch-2', { id: `s${i}` });
    const outcomes = await client.withServiceKey(launch.serviceKey!).submitMany(
      [
        { userId: 's0', scoreGiven: 5, scoreMaximum: 5 },
        { userId: 's1', scoreGiven: -2, scoreMaximum: 5 },
        { scoreGiven: 1, scoreMaximum: 5 } as never,
        ...[2, 3, 4, 5].map((i) => ({ userId: `s${i}`, scoreGiven: 0, scoreMaximum: 5 })),
      ],
      { lineItem: launch.lineItemId!, concurrency: 2 },
    );
    expect(outcomes.map((o) => o.status)).toEqual(['submitted', 'rejected', 'rejected', 'submitted', 'submitted', 'submitted', 'submitted']);
    expect(outcomes[1]).toMatchObject({ code: 'SCORE_INVALID' });
    expect(emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(5);
    expect(emulator.connectionCount).toBeLessThanOrEqual(2);
  });

  it('queues the whole batch in the outbox when LTIAAS is down, and delivers it later', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'batch-outbox-'));
    const outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 50 } });
    const withOutbox = ltiaasClient({ ltiaasUrl: emulator.url, apiKey: API_KEY, outbox, retry: { retries: 0 } });
    try {
      const launch = emulator.launch({ context: { id: 'batch-3' }, resourceLink: { id: 'rl-3' } });
      for (let i = 0; i < 5; i++) emulator.enroll('batch-3', { id: `q${i}` });
      await emulator.unreachable();
      const outcomes = await withOutbox
        .withServiceKey(launch.serviceKey!)
        .submitMany(Array.from({ length: 5 }, (_, i) => ({ userId: `q${i}`, scoreGiven: i, scoreMaximum: 4 })), {
          lineItem: { resourceId: 'late-lab', label: 'Late lab', scoreMaximum: 4, resourceLinkId: 'rl-3' },
        });
      expect(outcomes.map((o) => o.status)).toEqual(Array(5).fill('queued'));
      await emulator.reachable();
      expect(await outbox.drain(10_000)).toBe(true);
      const [column] = emulator.lineItems({ contextId: 'batch-3' });
      expect(column).toMatchObject({ resourceId: 'late-lab', resourceLinkId: 'rl-3' });
      expect(emulator.scores(column!.id).map((s) => s.userId).sort()).toEqual(['q0', 'q1', 'q2', 'q3', 'q4']);
    } finally {
      await withOutbox.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('reports failed (not rejected) for a transient failure without an outbox', async () => {
    const launch = emulator.launch({ context: { id: 'batch-4' }, lineItem: { label: 'Quiz', scoreMaximum: 5 } });
    emulator.enroll('batch-4', { id: 'x' });
    emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
    const outcomes = await client.withServiceKey(launch.serviceKey!).submitMany([{ userId: 'x', scoreGiven: 1, scoreMaximum: 5 }], { lineItem: launch.lineItemId! });
    expect(outcomes).toEqual([expect.objectContaining({ userId: 'x', status: 'failed', code: 'LTIAAS_UNAVAILABLE', upstreamStatus: 503 })]);
  });
});
