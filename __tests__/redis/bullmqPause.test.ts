// While LTIAAS fails, every instance on the queue holds back and one probe at a time goes out; Retry-After is honoured, and capped at retry.maxDelayMs.
import type { RequestLogEntry } from 'express-ltiaas-grades/testing';
import { startBullmqHarness, until, type BullmqHarness } from './bullmqHarness';
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
const scorePosts = (entries: RequestLogEntry[]) => entries.filter((entry) => entry.method === 'POST' && entry.path.endsWith('/scores'));

/** The most requests the emulator was answering at one moment (each request spans its arrival and its duration). */
function mostAtOnce(entries: RequestLogEntry[]): number {
  const edges = entries.flatMap((entry) => {
    const start = Date.parse(entry.at);
    return [
      { at: start, step: 1 },
      { at: start + entry.durationMs, step: -1 },
    ];
  });
  // An end and a start in the same millisecond are one after the other, not at once.
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let most = 0;
  for (const edge of edges) {
    now += edge.step;
    most = Math.max(most, now);
  }
  return most;
}

describe('the pause while LTIAAS fails', () => {
  it('sends one probe at a time across two instances with 24 queued grades, not a storm, and all of them once LTIAAS is back', async () => {
    const first = harness.instance({ concurrency: 8, retry: { minDelayMs: 20, maxDelayMs: 80 } });
    const second = harness.instance({ concurrency: 8, retry: { minDelayMs: 20, maxDelayMs: 80 } });
    const launches = Array.from({ length: 24 }, (_, i) => harness.emulator.launch({ user: { id: `p${i}` }, context: { id: 'probe-course' }, lineItem: lab }));
    // Each instance has read its students' ID tokens, so a probe is one score POST.
    for (const [i, launch] of launches.entries()) await (i % 2 ? second : first).grades.forLaunch(launch.ltik).idToken();
    // Every failing answer takes 40 ms, so that two probes at once would overlap in the log.
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, delayMs: 40, times: Infinity });
    for (const [i, launch] of launches.entries()) {
      expect((await (i % 2 ? second : first).grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).status).toBe('queued');
    }
    harness.emulator.clearRequests();
    await until(() => scorePosts(harness.emulator.requests).length >= 12, 30_000, '12 probes');
    const probes = scorePosts(harness.emulator.requests);
    expect(mostAtOnce(harness.emulator.requests)).toBe(1);
    expect(new Set(probes.map((probe) => probe.status))).toEqual(new Set([503]));
    const stats = await first.outbox.stats();
    expect(stats).toMatchObject({ pending: 24, paused: true });
    expect(stats.consecutiveFailures).toBeGreaterThanOrEqual(12);

    harness.emulator.clearFaults();
    expect(await first.outbox.drain(30_000)).toBe(true);
    const lineItemId = launches[0]!.lineItemId!;
    for (const launch of launches) expect(harness.emulator.scores(lineItemId, launch.userId)).toHaveLength(1);
    expect(await second.outbox.stats()).toMatchObject({ pending: 0, paused: false, consecutiveFailures: 0 });
  });

  it('honours a Retry-After longer than the backoff: no instance tries again before it', async () => {
    const { grades, outbox } = harness.instance({ retry: { minDelayMs: 10, maxDelayMs: 60_000 } });
    const launch = harness.emulator.launch({ user: { id: 'after' }, lineItem: lab });
    await grades.forLaunch(launch.ltik).idToken();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, headers: { 'Retry-After': '2' }, times: 2 });
    expect((await grades.forLaunch(launch.ltik).submit({ scoreGiven: 6, scoreMaximum: 10 })).status).toBe('queued');
    const [direct] = scorePosts(harness.emulator.requests);
    // Paused for 2 s from the failure LTIAAS answered with Retry-After: 2.
    const { pausedUntil } = await outbox.stats();
    expect(Date.parse(pausedUntil!)).toBeGreaterThanOrEqual(Date.parse(direct!.at) + 2000);
    await until(() => scorePosts(harness.emulator.requests).length >= 2, 20_000, 'the first probe');
    const [, probe] = scorePosts(harness.emulator.requests);
    expect(Date.parse(probe!.at)).toBeGreaterThanOrEqual(Date.parse(direct!.at) + 2000);
    // The outbox records the failed attempt just after LTIAAS answered it.
    await until(async () => (await outbox.pending())[0]?.attempts === 1, 20_000, 'the first attempt recorded');
    const [pending] = await outbox.pending();
    expect(pending).toMatchObject({ attempts: 1, lastError: expect.objectContaining({ code: 'LTIAAS_UNAVAILABLE', upstreamStatus: 503 }) });
    expect(Date.parse(pending!.nextAttemptAt)).toBeGreaterThanOrEqual(Date.parse(probe!.at) + 2000);
    expect(await outbox.drain(20_000)).toBe(true);
    expect(harness.emulator.scores(launch.lineItemId!, 'after')).toHaveLength(1);
  });

  it('waits at most retry.maxDelayMs however long LTIAAS asks (Retry-After: 1 hour)', async () => {
    const { grades, outbox } = harness.instance({ retry: { minDelayMs: 10, maxDelayMs: 300 } });
    const launch = harness.emulator.launch({ user: { id: 'capped' }, lineItem: lab });
    await grades.forLaunch(launch.ltik).idToken();
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, headers: { 'Retry-After': '3600' }, times: 3 });
    const noted = Date.now();
    expect((await grades.forLaunch(launch.ltik).submit({ scoreGiven: 8, scoreMaximum: 10 })).status).toBe('queued');
    const { pausedUntil } = await outbox.stats();
    expect(Date.parse(pausedUntil!)).toBeLessThanOrEqual(Date.now() + 300);
    expect(Date.parse(pausedUntil!)).toBeGreaterThanOrEqual(noted);
    // Two probes are refused with the same hour-long Retry-After; each waits 300 ms at most, and the third delivers.
    expect(await outbox.drain(20_000)).toBe(true);
    const posts = scorePosts(harness.emulator.requests);
    expect(posts.map((post) => post.status)).toEqual([503, 503, 503, 204]);
    expect(harness.emulator.scores(launch.lineItemId!, 'capped')).toHaveLength(1);
  });

  it('a direct submission that goes through ends the pause for every instance at once', async () => {
    const waiting = harness.instance({ retry: { minDelayMs: 30_000, maxDelayMs: 30_000 } });
    const other = harness.instance({ retry: { minDelayMs: 30_000, maxDelayMs: 30_000 } });
    const held = harness.emulator.launch({ user: { id: 'held' }, context: { id: 'wake-course' }, lineItem: lab });
    const fresh = harness.emulator.launch({ user: { id: 'fresh' }, context: { id: 'wake-course' }, lineItem: lab });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    expect((await waiting.grades.forLaunch(held.ltik).submit({ scoreGiven: 2, scoreMaximum: 10 })).status).toBe('queued');
    expect(await waiting.outbox.stats()).toMatchObject({ paused: true, pending: 1 });
    // Paused for 30 s; a grade that goes through on the other instance shows LTIAAS is back.
    expect((await other.grades.forLaunch(fresh.ltik).submit({ scoreGiven: 9, scoreMaximum: 10 })).status).toBe('submitted');
    expect(await waiting.outbox.drain(20_000)).toBe(true);
    expect(harness.emulator.scores(held.lineItemId!, 'held')).toHaveLength(1);
  });
});
