// RedisScoreClock against a real redis-server: stamps strictly increase per student and column across instances, run ahead of real time only by that student's count, and never push other students.
import { RedisScoreClock } from '../../src/redis/scoreClock';
import { startRedisServer, type RedisTestServer } from './redisServer';

let server: RedisTestServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

/** A clock standing still: every stamp in the same millisecond, the hardest case for ordering. */
const FROZEN = Date.parse('2026-03-01T09:00:00.000Z');
const frozen = () => FROZEN;

describe('RedisScoreClock', () => {
  it('gives 1,000 distinct stamps that increase in each client\'s order when three clients hammer one student\'s column at once, ahead of the clock by less than that count', async () => {
    const clocks = [0, 1, 2].map(() => new RedisScoreClock(server.client(), { prefix: 'hammer:', now: frozen }));
    const perClient = [334, 333, 333];
    const runs = clocks.map((clock, index) =>
      // Each client sends all its stamps at once (one connection keeps their order).
      Promise.all(Array.from({ length: perClient[index]! }, () => clock.stamp(['column\u0000line-item-1\u0000user-1']).then(Date.parse))),
    );
    const stamped = await Promise.all(runs);

    for (const stamps of stamped) {
      for (let i = 1; i < stamps.length; i += 1) expect(stamps[i]!).toBeGreaterThan(stamps[i - 1]!);
    }
    const all = stamped.flat().sort((a, b) => a - b);
    expect(new Set(all).size).toBe(1000);
    // All in one frozen millisecond: exactly now, now + 1, ..., now + 999.
    expect(all[0]).toBe(FROZEN);
    expect(all[999]! - FROZEN).toBe(999);
  });

  it('with the real clock, runs ahead of it by at most the student\'s own count of stamps', async () => {
    const clocks = [0, 1, 2].map(() => new RedisScoreClock(server.client(), { prefix: 'real:' }));
    const stamps = await Promise.all(
      Array.from({ length: 300 }, (_, i) => clocks[i % 3]!.stamp(['column\u0000line-item-1\u0000user-1']).then((stamp) => ({ stamp: Date.parse(stamp), after: Date.now() }))),
    );
    expect(new Set(stamps.map(({ stamp }) => stamp)).size).toBe(300);
    for (const { stamp, after } of stamps) expect(stamp - after).toBeLessThanOrEqual(300);
  });

  it('does not push one student\'s stamps with another\'s: after 100 stamps for one student, the next student gets the clock\'s own time', async () => {
    const clock = new RedisScoreClock(server.client(), { prefix: 'students:', now: frozen });
    for (let i = 0; i < 100; i += 1) await clock.stamp(['column\u0000line-item-1\u0000busy-student']);
    expect(await clock.stamp(['column\u0000line-item-1\u0000busy-student'])).toBe(new Date(FROZEN + 100).toISOString());
    expect(await clock.stamp(['column\u0000line-item-1\u0000other-student'])).toBe(new Date(FROZEN).toISOString());
    expect(await clock.stamp(['column\u0000line-item-2\u0000busy-student'])).toBe(new Date(FROZEN).toISOString());
  });

  it('stamps after the last stamp under any of the keys (names of one student\'s column) and records the stamp under all of them', async () => {
    const raw = server.client();
    const clock = new RedisScoreClock(raw, { prefix: 'names:', now: frozen });
    const launchName = 'launch\u0000digest\u0000quiz-1';
    const columnName = 'column\u0000line-item-1\u0000user-1';
    await clock.stamp([launchName]);
    await clock.stamp([launchName]);
    expect(await clock.stamp([launchName, columnName])).toBe(new Date(FROZEN + 2).toISOString());
    expect(await raw.get(clock.keyOf(columnName))).toBe(String(FROZEN + 2));
    expect(await clock.stamp([columnName])).toBe(new Date(FROZEN + 3).toISOString());
  });

  it('follows the clock again once it has passed the last stamp', async () => {
    let now = FROZEN;
    const clock = new RedisScoreClock(server.client(), { prefix: 'follows:', now: () => now });
    await clock.stamp(['k']);
    await clock.stamp(['k']);
    now = FROZEN + 5_000;
    expect(await clock.stamp(['k'])).toBe(new Date(FROZEN + 5_000).toISOString());
  });

  it('stays increasing across instances whose clocks disagree', async () => {
    const fast = new RedisScoreClock(server.client(), { prefix: 'skew:', now: () => FROZEN + 2_000 });
    const slow = new RedisScoreClock(server.client(), { prefix: 'skew:', now: frozen });
    const first = Date.parse(await fast.stamp(['k']));
    const second = Date.parse(await slow.stamp(['k']));
    expect(second).toBe(first + 1);
  });

  it('observe raises every key to a timestamp fixed elsewhere (a queued grade), and never lowers one', async () => {
    const clock = new RedisScoreClock(server.client(), { prefix: 'observe:', now: frozen });
    await clock.observe(['a', 'b'], new Date(FROZEN + 10).toISOString());
    expect(await clock.stamp(['a'])).toBe(new Date(FROZEN + 11).toISOString());
    await clock.observe(['a'], new Date(FROZEN + 3).toISOString());
    expect(await clock.stamp(['a'])).toBe(new Date(FROZEN + 12).toISOString());
    expect(await clock.stamp(['b'])).toBe(new Date(FROZEN + 11).toISOString());
    await clock.observe(['b'], 'not a timestamp');
    expect(await clock.stamp(['b'])).toBe(new Date(FROZEN + 12).toISOString());
  });

  it('keeps a last stamp only for its TTL', async () => {
    const raw = server.client();
    const clock = new RedisScoreClock(raw, { prefix: 'ttl:', ttlMs: 60_000, now: frozen });
    await clock.stamp(['k']);
    const ttl = await raw.pttl(clock.keyOf('k'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('refuses a stamp without any key naming the student and column', async () => {
    const clock = new RedisScoreClock(server.client(), { prefix: 'empty:' });
    await expect(clock.stamp([])).rejects.toThrow(TypeError);
  });
});
