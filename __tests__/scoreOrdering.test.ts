// Score timestamps during and after an outage: per student and column, never far ahead of the clock.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { fileOutbox, type GradeOutbox } from 'express-ltiaas-grades';
import { InProcessScoreClock, scoreKeys } from '../src/state/scoreClock';
import { EXPRESS_VERSIONS, quizApp, startHarness, type Harness } from './helpers/harness';

describe('ScoreClock', () => {
  it('does not run ahead of the clock for one student because of other students\' scores', () => {
    const clock = new InProcessScoreClock(() => 1_000);
    // An outage's backlog: 4,000 other students (or launches) stamped in the same millisecond.
    for (let i = 0; i < 4_000; i++) clock.stampFor([scoreKeys.launch(`launch-${i}`, 'launch-column')]);
    for (let i = 0; i < 4_000; i++) clock.stamp('li', `student-${i}`);
    expect(clock.stampFor([scoreKeys.launch('late-student', 'launch-column')])).toBe(new Date(1_000).toISOString());
    expect(clock.stamp('li', 'late-student')).toBe(new Date(1_000).toISOString());
  });

  it('runs ahead by at most the number of scores of that student and column', () => {
    let now = 1_000;
    const clock = new InProcessScoreClock(() => now);
    const stamps = Array.from({ length: 5 }, () => Date.parse(clock.stamp('li', 'u')));
    expect(stamps).toEqual([1_000, 1_001, 1_002, 1_003, 1_004]);
    now = 1_002;
    expect(Date.parse(clock.stamp('li', 'u'))).toBe(1_005);
    now = 2_000;
    expect(Date.parse(clock.stamp('li', 'u'))).toBe(2_000);
  });

  it('orders a stamp after every name of the same student and column it carries', () => {
    const clock = new InProcessScoreClock(() => 1_000);
    const launch = scoreKeys.launch('digest-of-ltik', 'launch-column');
    // Queued before the user was known: only the launch names it.
    const queued = clock.stampFor([launch]);
    // The same launch a moment later, user and column now known.
    const direct = clock.stampFor([scoreKeys.column('li', 'u'), launch]);
    expect(Date.parse(direct)).toBeGreaterThan(Date.parse(queued));
    // The resolved name alone now follows both.
    expect(Date.parse(clock.stamp('li', 'u'))).toBeGreaterThan(Date.parse(direct));
  });

  it('records a timestamp fixed elsewhere under every name given', () => {
    const clock = new InProcessScoreClock(() => 1_000);
    clock.observeFor([scoreKeys.column('li', 'u'), scoreKeys.user('scope', 'u', 'spec')], new Date(5_000).toISOString());
    expect(Date.parse(clock.stampFor([scoreKeys.user('scope', 'u', 'spec')]))).toBe(5_001);
    expect(Date.parse(clock.stamp('li', 'u'))).toBe(5_001);
  });
});

describe('score ordering after an outage', () => {
  const OTHER_STUDENTS = 4_000;
  const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
  let harness: Harness;
  let dir: string;
  let outbox: GradeOutbox;

  beforeEach(async () => {
    // Only Date is replaced (timers stay real): every grade of the outage is queued in the same
    // instant, however fast or slow this machine is, and the resubmissions come exactly one
    // second later.
    jest.useFakeTimers({
      now: T0,
      doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
    });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'score-order-'));
    // No timed probe: only LTIAAS taking a grade again (a resubmission) sends the backlog.
    outbox = fileOutbox({ dir, concurrency: 16, retry: { minDelayMs: 600_000, maxDelayMs: 600_000 } });
    // One quick retry of a call, as every tool has by default (3): without it, a single kept-alive
    // connection that the emulator closes as it is reused (ECONNRESET, on a busy machine) would
    // fail a delivery and, with no timed probe, hold the backlog for ten minutes.
    harness = await startHarness({ outbox, retry: { retries: 1, minDelayMs: 1, maxDelayMs: 5 } }, { logLimit: 100 });
  });
  afterEach(async () => {
    await harness.close();
    jest.useRealTimers();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it(
    `keeps a resubmission made after LTIAAS returns over the same student's try queued behind ${OTHER_STUDENTS} other grades (Express 4 and 5)`,
    async () => {
      const quiz = { resourceId: 'quiz-1', label: 'Quiz 1', scoreMaximum: 3 };
      const others = Array.from({ length: OTHER_STUDENTS }, (_, i) => harness.emulator.launch({ user: { id: `other-${i}` }, context: { id: 'outage' } }));
      // One student per Express major, each finishing the quiz through the app's route.
      const students = EXPRESS_VERSIONS.map(([name, expressLib], i) => ({
        name,
        app: quizApp(expressLib, harness.grades),
        launch: harness.emulator.launch({ user: { id: `resubmitter-${i}` }, context: { id: 'outage' } }),
      }));
      await harness.emulator.unreachable();

      // The outage: every grade is queued before its ID token can be read (the user is not known).
      let next = 0;
      const queueOthers = async () => {
        while (next < others.length) {
          const launch = others[next++]!;
          const outcome = await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 3 }, { lineItem: quiz });
          expect(outcome.status).toBe('queued');
        }
      };
      await Promise.all(Array.from({ length: 16 }, queueOthers));
      for (const student of students) {
        const firstTry = await request(student.app).post(`/quiz/1/finish?ltik=${student.launch.ltik}`).send({ answers: ['b'] });
        expect([student.name, firstTry.status]).toEqual([student.name, 202]);
      }

      // LTIAAS is back; a second later each student tries again and gets 3 of 3.
      await harness.emulator.reachable();
      jest.setSystemTime(T0 + 1_000);
      for (const student of students) {
        const secondTry = await request(student.app).post(`/quiz/1/finish?ltik=${student.launch.ltik}`).send({ answers: ['b', 'b', 'b'] });
        expect([student.name, secondTry.status, secondTry.body]).toEqual([student.name, 200, expect.objectContaining({ status: 'submitted', scoreGiven: 3 })]);
      }

      // 4,000 deliveries, each with an fsync'd write: on a machine whose disk is busy elsewhere this
      // can take minutes, so the bound is generous (it only turns a hang into a failure).
      expect(await outbox.drain(600_000)).toBe(true);
      const [column] = harness.emulator.lineItems({ contextId: 'outage' });
      expect(column).toBeDefined();
      // The LMS holds each later try; the queued first try, delivered after it, carried an older timestamp.
      for (const student of students) {
        const held = harness.emulator.scores(column!.id, student.launch.userId).at(-1);
        expect([student.name, held]).toEqual([student.name, expect.objectContaining({ scoreGiven: 3, timestamp: new Date(T0 + 1_000).toISOString() })]);
      }
      // No stamp of the outage ran ahead of the clock: every other student's grade is stamped T0.
      const othersStamps = new Set(harness.emulator.scores(column!.id).filter((s) => s.userId.startsWith('other-')).map((s) => s.timestamp));
      expect([...othersStamps]).toEqual([new Date(T0).toISOString()]);
      expect(harness.emulator.scores(column!.id).filter((s) => s.userId.startsWith('other-'))).toHaveLength(OTHER_STUDENTS);
    },
    660_000,
  );
});

describe.each(EXPRESS_VERSIONS)('one student\'s tries within one millisecond on %s', (_name, expressLib) => {
  const T0 = Date.UTC(2026, 2, 3, 10, 0, 0);
  let harness: Harness;
  let dir: string;
  let outbox: GradeOutbox;

  beforeEach(async () => {
    // Date stands still (timers stay real): every try below is made in the same millisecond,
    // so only the score clock's keys can order them.
    jest.useFakeTimers({
      now: T0,
      doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
    });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'score-order-ms-'));
    // No timed probe: the backlog goes when the test wakes the outbox.
    outbox = fileOutbox({ dir, retry: { minDelayMs: 600_000, maxDelayMs: 600_000 } });
    harness = await startHarness({ outbox });
  });
  afterEach(async () => {
    await harness.close();
    jest.useRealTimers();
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** Finishes the quiz with `correct` answers right (the score), through the app's route. */
  async function finish(ltik: string, correct: number): Promise<{ status: number; body: { status?: string } }> {
    return request(quizApp(expressLib, harness.grades)).post(`/quiz/1/finish?ltik=${ltik}`).send({ answers: Array(correct).fill('b') });
  }

  /** The timestamp each score was posted with (every POST that the LMS answered 204), by score. */
  function postedStamps(): Record<number, string[]> {
    const stamps: Record<number, string[]> = {};
    for (const call of harness.emulator.requests) {
      if (call.method !== 'POST' || !call.path.endsWith('/scores') || call.status !== 204) continue;
      const { scoreGiven, timestamp } = call.body as { scoreGiven: number; timestamp: string };
      (stamps[scoreGiven] ??= []).push(timestamp);
    }
    return stamps;
  }

  const at = (ms: number) => new Date(T0 + ms).toISOString();

  it('orders the tries of one launch queued before its ID token could be read, and a direct try after them (the launch names the student)', async () => {
    const launch = harness.emulator.launch({ user: { id: 'one-ms' }, context: { id: 'same-ms' } });
    await harness.emulator.unreachable();
    expect((await finish(launch.ltik, 1)).status).toBe(202);
    expect((await finish(launch.ltik, 2)).status).toBe(202);
    await harness.emulator.reachable();
    const direct = await finish(launch.ltik, 3);
    expect([direct.status, direct.body.status]).toEqual([200, 'submitted']);
    outbox.wake();
    expect(await outbox.drain(10_000)).toBe(true);

    expect(postedStamps()).toEqual({ 1: [at(0)], 2: [at(1)], 3: [at(2)] });
    const [column] = harness.emulator.lineItems({ contextId: 'same-ms' });
    expect(harness.emulator.scores(column!.id, 'one-ms').at(-1)).toMatchObject({ scoreGiven: 3, timestamp: at(2) });
  });

  it('orders the tries of two launches of one student queued while the column could not be resolved (the user and the column asked for name the student)', async () => {
    const first = harness.emulator.launch({ user: { id: 'two-launches' }, context: { id: 'same-ms' } });
    const second = harness.emulator.launch({ user: { id: 'two-launches' }, context: { id: 'same-ms' } });
    // Both ID tokens are read (the user is known); the column cannot be listed, so it stays unresolved.
    await harness.grades.forLaunch(first.ltik).idToken();
    await harness.grades.forLaunch(second.ltik).idToken();
    harness.emulator.fail({ method: 'GET', path: '/api/lineitems', status: 503, times: Infinity });
    expect((await finish(first.ltik, 1)).status).toBe(202);
    expect((await finish(second.ltik, 2)).status).toBe(202);

    harness.emulator.clearFaults();
    outbox.wake();
    expect(await outbox.drain(10_000)).toBe(true);

    expect(postedStamps()).toEqual({ 1: [at(0)], 2: [at(1)] });
    const [column] = harness.emulator.lineItems({ contextId: 'same-ms' });
    // The LMS holds the later try: with equal stamps it would keep whichever arrived first.
    expect(harness.emulator.scores(column!.id, 'two-launches').at(-1)).toMatchObject({ scoreGiven: 2, timestamp: at(1) });
  });
});
