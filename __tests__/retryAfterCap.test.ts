// Waits of years: a Retry-After is capped at the outbox's maxDelayMs, a live request fails at once instead of waiting, and no wait (drain's deadline included) overflows a timer.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { fileOutbox, type GradeOutbox } from 'express-ltiaas-grades';
import { EXPRESS_VERSIONS, quizApp, startHarness, type Harness } from './helpers/harness';

const OUTBOX_MAX_DELAY_MS = 300;

/** Retry-After values that ask for years. */
const hugeWaits: Array<[string, string]> = [
  ['99999999 seconds', '99999999'],
  ['a date in year 9999', 'Fri, 31 Dec 9999 23:59:59 GMT'],
];

describe.each(EXPRESS_VERSIONS)('a Retry-After of years on %s', (_name, expressLib) => {
  let harness: Harness;
  let dir: string | undefined;
  afterEach(async () => {
    await harness.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** Every score POST answers 429 asking to wait for years, until the faults are cleared. */
  function rateLimitedForYears(retryAfter: string) {
    const launch = harness.emulator.launch({ user: { id: 'ada' }, lineItem: { label: 'Lab', scoreMaximum: 5 } });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 429, headers: { 'Retry-After': retryAfter }, times: Infinity });
    return launch;
  }

  it.each(hugeWaits)('with an outbox, queues the grade due within the outbox\'s maxDelayMs for %s, then delivers it', async (_what, retryAfter) => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'retry-after-cap-'));
    const outbox: GradeOutbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: OUTBOX_MAX_DELAY_MS } });
    harness = await startHarness({ outbox, retry: { retries: 3, minDelayMs: 10, maxDelayMs: 2000 } });
    const launch = rateLimitedForYears(retryAfter);
    const res = await request(quizApp(expressLib, harness.grades)).post(`/activity/finish?ltik=${launch.ltik}`);
    const answeredAt = Date.now();
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'queued' });
    // The live request did not wait for the Retry-After: one score POST, no retry.
    expect(harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(1);
    const [held] = await outbox.pending();
    expect(Date.parse(held!.nextAttemptAt)).toBeLessThanOrEqual(answeredAt + OUTBOX_MAX_DELAY_MS);

    harness.emulator.clearFaults();
    expect(await outbox.drain(10_000)).toBe(true);
    expect(harness.emulator.scores(launch.lineItemId!, 'ada').map((score) => score.scoreGiven)).toEqual([0]);
  });

  it.each(hugeWaits)('without an outbox, answers LTIAAS_UNAVAILABLE at once for %s, without waiting or retrying', async (_what, retryAfter) => {
    harness = await startHarness({ retry: { retries: 3, minDelayMs: 10, maxDelayMs: 2000 } });
    const launch = rateLimitedForYears(retryAfter);
    const res = await request(quizApp(expressLib, harness.grades)).post(`/activity/finish?ltik=${launch.ltik}`);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('LTIAAS_UNAVAILABLE');
    expect(harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(1);
  });
});

describe('an outbox drain asked to wait longer than a timer can hold', () => {
  let harness: Harness;
  let dir: string;
  afterEach(async () => {
    await harness.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** Resolves once `condition` holds: state is polled, no fixed sleep stands in for a timer. */
  async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error('condition not reached');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  // setTimeout fires a delay above 2^31-1 ms after 1 ms: drain() would give up at once.
  it.each([
    ['2^40 ms', 2 ** 40],
    ['Infinity', Infinity],
  ])('keeps waiting for %s instead of answering false after 1 ms, and resolves true once the grade is delivered', async (_what, timeoutMs) => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'drain-cap-'));
    const outbox: GradeOutbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 40 } });
    harness = await startHarness({ outbox });
    const launch = harness.emulator.launch({ user: { id: 'ada' }, lineItem: { label: 'Lab', scoreMaximum: 5 } });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    expect((await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 4, scoreMaximum: 5 })).status).toBe('queued');

    let answered: boolean | undefined;
    const drained = outbox.drain(timeoutMs).then((result) => (answered = result));
    // Two outbox rounds after the direct try, each behind a timer of at least 20 ms: a 1 ms timer fired long before.
    const scorePosts = () => harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ });
    await until(() => scorePosts() >= 3);
    expect(answered).toBeUndefined();

    harness.emulator.clearFaults();
    expect(await drained).toBe(true);
    expect(harness.emulator.scores(launch.lineItemId!, 'ada').map((score) => score.scoreGiven)).toEqual([4]);
  });
});
