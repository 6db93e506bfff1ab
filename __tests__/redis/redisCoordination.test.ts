// redisCoordination() against a real redis-server: its pieces share one client, the options reach them, and prefixes keep tools apart.
import { redisCoordination } from '../../src/redis';
import { startRedisServer, type RedisTestServer } from './redisServer';

let server: RedisTestServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

const column = { platformId: 'https://lms.example', contextId: 'course-1', resourceId: 'quiz-1' };

describe('redisCoordination', () => {
  it('builds the lock, column cache, ID-token cache and score clock on the application\'s client, under the default prefix', async () => {
    const redis = server.client();
    const coordination = redisCoordination({ redis });
    expect(coordination.prefix).toBe('ltiaas-grades:');
    expect(await coordination.columns.resolveOnce(column, async () => 'line-item-1')).toBe('line-item-1');
    await coordination.idTokens.set('an-ltik', { user: { id: 'u' } } as never, 60_000);
    await coordination.clock.stamp(['column\u0000line-item-1\u0000u']);
    const keys = (await redis.keys('*')).sort();
    expect(keys).toHaveLength(3);
    for (const key of keys) expect(key).toMatch(/^ltiaas-grades:(column|id-token|score-clock):/);
  });

  it('keeps two tools on one Redis apart by prefix', async () => {
    const quiz = redisCoordination({ redis: server.client(), prefix: 'quiz-tool:' });
    const lab = redisCoordination({ redis: server.client(), prefix: 'lab-tool:' });
    await quiz.columns.set(column, 'quiz-column');
    expect(await lab.columns.get(column)).toBeUndefined();
    expect(await lab.columns.resolveOnce(column, async () => 'lab-column')).toBe('lab-column');
    expect(await quiz.columns.get(column)).toBe('quiz-column');
  });

  it('passes lockWaitMs and columnTtlMs to the column cache', async () => {
    const redis = server.client();
    const holder = redisCoordination({ redis, prefix: 'options:' });
    const impatient = redisCoordination({ redis: server.client(), prefix: 'options:', lockWaitMs: 0, columnTtlMs: 5_000 });
    const lease = await holder.lock.acquire(holder.columns.lockNameOf(column));
    await expect(impatient.columns.resolveOnce(column, async () => 'never')).rejects.toMatchObject({ code: 'COORDINATION_UNAVAILABLE', status: 503, retryable: true });
    await lease.release();
    await impatient.columns.resolveOnce(column, async () => 'line-item-2');
    expect(await redis.pttl(impatient.columns.keyOf(column))).toBeLessThanOrEqual(5_000);
  });
});
