// The deadline on Redis commands against a real redis-server: an answer that came in time is taken even when the event loop was too busy to read it before the deadline's timer.
import { withinDeadline } from '../../src/redis/reachability';
import { startRedisServer, type RedisTestServer } from './redisServer';

let server: RedisTestServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

/** Keeps the event loop busy, as a CPU-heavy request of the tool would: no timer and no socket is served meanwhile. */
function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

describe('withinDeadline', () => {
  it('takes an answer that arrived while the event loop was busy past the deadline, instead of counting Redis as not answering', async () => {
    const redis = server.client();
    await redis.set('lagged', 'answered');
    const answer = withinDeadline(redis, () => redis.get('lagged'), 50);
    // Let the command go out (it is sent on the next microtask), then block well past the deadline.
    await Promise.resolve();
    await Promise.resolve();
    busyFor(1000);
    await expect(answer).resolves.toBe('answered');
  });

  it('gives up on a command with no answer after the deadline', async () => {
    const redis = server.client();
    // BLPOP on an empty list answers only after its own 5 s: past our 100 ms deadline.
    await expect(withinDeadline(redis, () => redis.blpop('never-filled', 5), 100)).rejects.toThrow('Redis did not answer within 100 ms');
  });

  it('sends nothing and fails at once while the client says it is disconnected', async () => {
    let sent = false;
    const disconnected = { status: 'reconnecting' };
    await expect(
      withinDeadline(disconnected, async () => {
        sent = true;
        return 'never';
      }, 60_000),
    ).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(sent).toBe(false);
  });
});
