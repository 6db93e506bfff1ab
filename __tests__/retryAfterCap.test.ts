// A Retry-After of years: the outbox waits at most its maxDelayMs, a live request fails at once instead of waiting.
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
