// Retries on LTIAAS calls: what is retried and how, the same timestamp on repeats, stale line items.
import { startHarness, type Harness } from './helpers/harness';

/** Score POSTs the emulator received, with the timestamps they carried. */
function scorePosts(harness: Harness) {
  return harness.emulator.requests
    .filter((r) => r.method === 'POST' && r.path.endsWith('/scores'))
    .map((r) => ({ status: r.status, timestamp: (r.body as { timestamp?: string } | undefined)?.timestamp }));
}

describe('retries', () => {
  let harness: Harness;
  afterEach(() => harness.close());

  async function launchWithColumn(gradesOptions = {}) {
    harness = await startHarness({ retry: { retries: 3, minDelayMs: 10, maxDelayMs: 2000 }, timeoutMs: 300, ...gradesOptions });
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const grades = harness.grades.forLaunch(launch.ltik);
    await grades.idToken();
    return { launch, grades };
  }

  it('honours Retry-After on a 429: delivered once, after at least 1 s, with the same timestamp', async () => {
    const { launch, grades } = await launchWithColumn();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 429, headers: { 'Retry-After': '1' } });
    const retries: unknown[] = [];
    harness.grades.on('retry', (event) => retries.push(event));
    const started = Date.now();
    const outcome = await grades.submit({ scoreGiven: 7, scoreMaximum: 10 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(outcome.status).toBe('submitted');
    const posts = scorePosts(harness);
    expect(posts.map((p) => p.status)).toEqual([429, 204]);
    expect(posts[1]!.timestamp).toBe(posts[0]!.timestamp);
    expect(harness.emulator.scores(launch.lineItemId!)).toHaveLength(1);
    expect(retries).toEqual([
      expect.objectContaining({ method: 'POST', endpoint: '/api/lineitems/:lineItemId/scores', attempt: 1, status: 429, delayMs: expect.any(Number), lineItemId: launch.lineItemId, userId: launch.userId }),
    ]);
    expect((retries[0] as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(1000);
  });

  it('retries two 503s, then succeeds, with one timestamp throughout', async () => {
    const { launch, grades } = await launchWithColumn();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 2 });
    await expect(grades.submit({ scoreGiven: 3, scoreMaximum: 10 })).resolves.toMatchObject({ status: 'submitted' });
    const posts = scorePosts(harness);
    expect(posts.map((p) => p.status)).toEqual([503, 503, 204]);
    expect(new Set(posts.map((p) => p.timestamp)).size).toBe(1);
    expect(harness.emulator.scores(launch.lineItemId!)).toHaveLength(1);
  });

  it('retries a dropped connection', async () => {
    const { launch, grades } = await launchWithColumn();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, drop: true });
    await expect(grades.submit({ scoreGiven: 0, scoreMaximum: 10 })).resolves.toMatchObject({ status: 'submitted', scoreGiven: 0 });
    expect(scorePosts(harness).map((p) => p.status)).toEqual([null, 204]);
    expect(harness.emulator.scores(launch.lineItemId!)).toHaveLength(1);
  });

  it('cuts a hung upstream at timeoutMs and retries', async () => {
    const { launch, grades } = await launchWithColumn();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, hang: true });
    await expect(grades.submit({ scoreGiven: 4, scoreMaximum: 10 })).resolves.toMatchObject({ status: 'submitted' });
    expect(scorePosts(harness).map((p) => p.status)).toEqual([null, 204]);
    expect(harness.emulator.scores(launch.lineItemId!)).toHaveLength(1);
  });

  it('never retries a 400 and surfaces the LMS\'s message', async () => {
    const { grades } = await launchWithColumn();
    harness.emulator.fail({
      method: 'POST',
      path: /\/scores$/,
      status: 400,
      times: Infinity,
      body: { status: 400, error: 'Bad Request', details: { message: 'EXTERNAL_PLATFORM_ERROR', externalError: true, bodyReceived: { message: 'Incorrect score received' } } },
    });
    const error = await grades.submit({ scoreGiven: 4, scoreMaximum: 10 }).catch((e) => e);
    expect(error).toMatchObject({ code: 'LTIAAS_REJECTED', retryable: false, upstream: { status: 400, lmsMessage: 'Incorrect score received' } });
    expect(error.message).toContain('Incorrect score received');
    expect(scorePosts(harness)).toHaveLength(1);
  });

  it.each([401, 403, 404, 422])('never retries %i', async (status) => {
    const { grades, launch } = await launchWithColumn();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status, times: Infinity });
    await expect(grades.submitScore(launch.lineItemId!, { scoreGiven: 1, scoreMaximum: 10 })).rejects.toMatchObject({ retryable: false });
    expect(scorePosts(harness)).toHaveLength(1);
  });

  it('retries a 500 on a GET but not on a score POST', async () => {
    const { grades, launch } = await launchWithColumn();
    harness.emulator.fail({ method: 'GET', path: '/api/lineitems', status: 500 });
    await expect(grades.lineItems.list()).resolves.toMatchObject({ lineItems: expect.any(Array) });
    expect(harness.emulator.countRequests({ method: 'GET', path: '/api/lineitems' })).toBe(2);
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 500 });
    await expect(grades.submitScore(launch.lineItemId!, { scoreGiven: 1, scoreMaximum: 10 })).rejects.toMatchObject({ code: 'LTIAAS_UNAVAILABLE', status: 502 });
    expect(scorePosts(harness)).toHaveLength(1);
  });

  it('gives up after retry.retries and reports the failure as retryable', async () => {
    const { grades } = await launchWithColumn();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    await expect(grades.submit({ scoreGiven: 1, scoreMaximum: 10 })).rejects.toMatchObject({ code: 'LTIAAS_UNAVAILABLE', retryable: true, status: 503 });
    expect(scorePosts(harness)).toHaveLength(4);
  });

  it('does not wait inside the request for a Retry-After longer than maxDelayMs', async () => {
    const { grades } = await launchWithColumn({ retry: { retries: 3, minDelayMs: 10, maxDelayMs: 500 } });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 429, headers: { 'Retry-After': '30' } });
    const error = await grades.submit({ scoreGiven: 1, scoreMaximum: 10 }).catch((e) => e);
    expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', upstream: { status: 429, retryAfterMs: 30_000 } });
    expect(scorePosts(harness)).toHaveLength(1);
  });

  it('lets one call override the retries and the timeout', async () => {
    const { grades } = await launchWithColumn();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 2 });
    await expect(grades.submit({ scoreGiven: 1, scoreMaximum: 10 }, { retry: { retries: 0 } })).rejects.toMatchObject({ code: 'LTIAAS_UNAVAILABLE' });
    expect(scorePosts(harness)).toHaveLength(1);
    harness.emulator.clearFaults();
    harness.emulator.clearRequests();
    // Every score POST takes 600 ms, twice the instance's 300 ms timeout: only the override lets it through.
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, delayMs: 600, times: Infinity });
    await expect(grades.submit({ scoreGiven: 1, scoreMaximum: 10 }, { timeoutMs: 2000, retry: { retries: 0 } })).resolves.toMatchObject({ status: 'submitted' });
    expect(scorePosts(harness)).toHaveLength(1);
  });

  it('refuses bad per-call overrides before sending anything', async () => {
    const { grades } = await launchWithColumn();
    harness.emulator.clearRequests();
    await expect(grades.submit({ scoreGiven: 1, scoreMaximum: 10 }, { retry: { retries: -1 } })).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
    await expect(grades.submit({ scoreGiven: 1, scoreMaximum: 10 }, { timeoutMs: 0 })).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
    await expect(grades.lineItems.list({}, { retry: { minDelayMs: 900, maxDelayMs: 10 } })).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
    expect(harness.emulator.countRequests({ path: /^\/api\/lineitems/ })).toBe(0);
  });

  it('does not make a second column when the answer to a create is lost', async () => {
    harness = await startHarness({ retry: { retries: 2, minDelayMs: 10, maxDelayMs: 50 } });
    const launch = harness.emulator.launch({ context: { id: 'lost-answer' } });
    harness.emulator.fail({ method: 'POST', path: '/api/lineitems', dropAnswer: true });
    const outcome = await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 2, scoreMaximum: 5 }, { lineItem: { resourceId: 'q', label: 'Q', scoreMaximum: 5 } });
    expect(outcome.status).toBe('submitted');
    expect(harness.emulator.lineItems({ contextId: 'lost-answer' })).toHaveLength(1);
    expect(harness.emulator.countRequests({ method: 'POST', path: '/api/lineitems' })).toBe(1);
  });
});

describe('a stale line item', () => {
  let harness: Harness;
  afterEach(() => harness.close());

  it('is dropped from the cache on 404, resolved again once, and the score posted', async () => {
    harness = await startHarness();
    const launch = harness.emulator.launch({ context: { id: 'stale' } });
    const grades = harness.grades.forLaunch(launch.ltik);
    const spec = { resourceId: 'quiz-s', label: 'Quiz S', scoreMaximum: 10 };
    const first = await grades.submit({ scoreGiven: 5, scoreMaximum: 10 }, { lineItem: spec });
    expect(first.status).toBe('submitted');
    const firstId = (first as { lineItemId: string }).lineItemId;
    harness.emulator.deleteLineItem(firstId); // a teacher deleted the column in the LMS

    const second = await grades.submit({ scoreGiven: 6, scoreMaximum: 10 }, { lineItem: spec });
    const secondId = (second as { lineItemId: string }).lineItemId;
    expect(second.status).toBe('submitted');
    expect(secondId).not.toBe(firstId);
    expect(harness.emulator.lineItems({ contextId: 'stale' }).map((item) => item.id)).toEqual([secondId]);
    expect(harness.emulator.scores(secondId).map((s) => s.scoreGiven)).toEqual([6]);

    // Resolved once: later submissions go straight to the new column.
    harness.emulator.clearRequests();
    await grades.submit({ scoreGiven: 7, scoreMaximum: 10 }, { lineItem: spec });
    expect(harness.emulator.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['POST 204']);
  });

  it('is retried only once: a second 404 is reported', async () => {
    harness = await startHarness();
    const launch = harness.emulator.launch({ context: { id: 'stale-2' } });
    const grades = harness.grades.forLaunch(launch.ltik);
    const spec = { resourceId: 'quiz-t', label: 'Quiz T', scoreMaximum: 10 };
    await grades.submit({ scoreGiven: 5, scoreMaximum: 10 }, { lineItem: spec });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 404, times: Infinity });
    await expect(grades.submit({ scoreGiven: 6, scoreMaximum: 10 }, { lineItem: spec })).rejects.toMatchObject({ code: 'LTIAAS_REJECTED', upstream: { status: 404 } });
    expect(harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(3);
  });
});
