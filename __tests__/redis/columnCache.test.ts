// RedisColumnCache against a real redis-server: several instances racing on the same columns make one create per column; a dead resolver is taken over by one that searches first.
import type Redis from 'ioredis';
import { RedisColumnCache, type ColumnKey } from '../../src/redis/columnCache';
import { RedisLock } from '../../src/redis/redisLock';
import { countingClient } from './countingClient';
import { startRedisServer, type RedisTestServer } from './redisServer';

let server: RedisTestServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

/** Lets other callers run in between, as a network round trip to the LMS would. */
const lmsLatency = async () => {
  for (let turn = 0; turn < 3; turn += 1) await new Promise((resolve) => setImmediate(resolve));
};

/** A grade book shared by every instance: searching and creating columns, counting creations. */
class SharedLms {
  private next = 1;
  readonly columns = new Map<string, string[]>();
  readonly creates = new Map<string, number>();

  async search(column: string): Promise<string | undefined> {
    await lmsLatency();
    return this.columns.get(column)?.[0];
  }

  async create(column: string): Promise<string> {
    await lmsLatency();
    const id = `line-item-${this.next++}`;
    this.columns.set(column, [...(this.columns.get(column) ?? []), id]);
    this.creates.set(column, (this.creates.get(column) ?? 0) + 1);
    return id;
  }

  /** What the package's resolver does: search first, create only when nothing is found. */
  findOrCreate(column: string): () => Promise<string> {
    return async () => (await this.search(column)) ?? (await this.create(column));
  }
}

/** One tool instance: its own Redis connection, lock and column cache. */
function instance(prefix: string, options: { lockTtlMs?: number; client?: Redis } = {}): RedisColumnCache {
  const redis = options.client ?? server.client();
  const lock = new RedisLock(redis, { prefix });
  return new RedisColumnCache(redis, lock, { prefix, ...(options.lockTtlMs ? { lockTtlMs: options.lockTtlMs } : {}) });
}

const keyOf = (context: number): ColumnKey => ({ platformId: 'https://lms.example', contextId: `course-${context}`, resourceId: 'quiz-1', tag: 'final' });

describe('RedisColumnCache.resolveOnce', () => {
  it('creates exactly one column per key when 30 callers per key race over 10 keys through 3 instances', async () => {
    const lms = new SharedLms();
    const instances = [instance('race:'), instance('race:'), instance('race:')];
    const callers: Array<Promise<{ context: number; id: string }>> = [];
    for (let caller = 0; caller < 30; caller += 1) {
      for (let context = 0; context < 10; context += 1) {
        const cache = instances[(caller + context) % instances.length]!;
        callers.push(cache.resolveOnce(keyOf(context), lms.findOrCreate(`course-${context}`)).then((id) => ({ context, id })));
      }
    }
    const results = await Promise.all(callers);

    for (let context = 0; context < 10; context += 1) {
      expect({ context, creates: lms.creates.get(`course-${context}`) }).toEqual({ context, creates: 1 });
      const [only] = lms.columns.get(`course-${context}`)!;
      expect(results.filter((result) => result.context === context).map((result) => result.id)).toEqual(Array(30).fill(only));
      expect(await instances[0]!.get(keyOf(context))).toBe(only);
    }
  });

  it('gives a waiter on another instance the id the holder stored, without calling its own findOrCreate', async () => {
    const holder = instance('waiter:');
    const waiterClient = countingClient(server.client());
    const waiter = new RedisColumnCache(waiterClient, new RedisLock(waiterClient, { prefix: 'waiter:' }), { prefix: 'waiter:' });
    let finishCreate!: (id: string) => void;
    const created = new Promise<string>((resolve) => (finishCreate = resolve));
    let holderStarted!: () => void;
    const started = new Promise<void>((resolve) => (holderStarted = resolve));

    const holding = holder.resolveOnce(keyOf(1), () => {
      holderStarted();
      return created;
    });
    await started;
    let waiterCalls = 0;
    const waiting = waiter.resolveOnce(keyOf(1), async () => {
      waiterCalls += 1;
      return 'second-column';
    });
    // The waiter has tried the lock a few times while the holder works.
    await waiterClient.reached(3);
    finishCreate('first-column');

    expect(await holding).toBe('first-column');
    expect(await waiting).toBe('first-column');
    expect(waiterCalls).toBe(0);
  });

  it('takes over from a resolver that died after creating (never released): after the lock expires the next one searches, finds that column and creates none', async () => {
    const lms = new SharedLms();
    const deadClient = server.client();
    const dying = instance('dead:', { lockTtlMs: 300, client: deadClient });
    const survivor = instance('dead:', { lockTtlMs: 300 });
    const observer = server.client();
    const lockKey = new RedisLock(observer, { prefix: 'dead:' }).keyOf(dying.lockNameOf(keyOf(2)));

    const died = dying
      .resolveOnce(keyOf(2), async () => {
        await lms.create('course-2');
        // The process dies here: its connection drops, nothing is stored and the lock is not released.
        deadClient.disconnect();
        throw new Error('process died');
      })
      .catch((error: Error) => error.message);
    expect(await died).toBe('process died');
    expect(await observer.pttl(lockKey)).toBeGreaterThan(0);
    expect(await survivor.get(keyOf(2))).toBeUndefined();

    let searchedFirst = false;
    const id = await survivor.resolveOnce(keyOf(2), async () => {
      const found = await lms.search('course-2');
      searchedFirst = found !== undefined;
      return found ?? (await lms.create('course-2'));
    });
    expect(searchedFirst).toBe(true);
    expect(lms.creates.get('course-2')).toBe(1);
    expect(id).toBe(lms.columns.get('course-2')![0]);
    expect(await survivor.get(keyOf(2))).toBe(id);
  });

  it('stores nothing when findOrCreate fails, and frees the lock for the next caller at once', async () => {
    const cache = instance('fail:');
    const observer = server.client();
    const lockKey = new RedisLock(observer, { prefix: 'fail:' }).keyOf(cache.lockNameOf(keyOf(3)));
    await expect(cache.resolveOnce(keyOf(3), async () => Promise.reject(new Error('LMS unavailable')))).rejects.toThrow('LMS unavailable');
    expect(await cache.get(keyOf(3))).toBeUndefined();
    expect(await observer.exists(lockKey)).toBe(0);
    expect(await cache.resolveOnce(keyOf(3), async () => 'line-item-3')).toBe('line-item-3');
  });

  it('keeps the first stored id when a resolver that lost its lock finishes later (every instance converges on one column)', async () => {
    const cache = instance('converge:');
    await cache.set(keyOf(4), 'first-column');
    const stale = instance('converge:');
    // As if this instance had taken the lock and read an empty cache before the other stored its id.
    const raw = server.client();
    await raw.del(cache.keyOf(keyOf(4)));
    const resolving = stale.resolveOnce(keyOf(4), async () => {
      await raw.set(cache.keyOf(keyOf(4)), 'first-column');
      return 'late-column';
    });
    expect(await resolving).toBe('first-column');
    expect(await cache.get(keyOf(4))).toBe('first-column');
  });
});

describe('RedisColumnCache.get, set and forget', () => {
  it('keeps a resolved id with the cache TTL', async () => {
    const redis = server.client();
    const cache = new RedisColumnCache(redis, new RedisLock(redis, { prefix: 'ttl:' }), { prefix: 'ttl:', ttlMs: 60_000 });
    await cache.set(keyOf(5), 'line-item-5');
    const ttl = await redis.pttl(cache.keyOf(keyOf(5)));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('forgets an id on the LMS\'s 404 only while the cache still holds that id', async () => {
    const cache = instance('forget:');
    await cache.set(keyOf(6), 'deleted-column');
    await cache.set(keyOf(6), 'newer-column');
    expect(await cache.forget(keyOf(6), 'deleted-column')).toBe(false);
    expect(await cache.get(keyOf(6))).toBe('newer-column');
    expect(await cache.forget(keyOf(6), 'newer-column')).toBe(true);
    expect(await cache.get(keyOf(6))).toBeUndefined();
  });

  it('keeps columns apart whose names would run together with a separator (tag vs resourceId) and treats no tag as an empty tag', async () => {
    const cache = instance('keys:');
    const a: ColumnKey = { platformId: 'p', contextId: 'c', resourceId: 'quiz:1', tag: 'x' };
    const b: ColumnKey = { platformId: 'p', contextId: 'c', resourceId: 'quiz', tag: '1:x' };
    await cache.set(a, 'column-a');
    await cache.set(b, 'column-b');
    expect(await cache.get(a)).toBe('column-a');
    expect(await cache.get(b)).toBe('column-b');
    await cache.set({ platformId: 'p', contextId: 'c', resourceId: 'quiz' }, 'untagged');
    expect(await cache.get({ platformId: 'p', contextId: 'c', resourceId: 'quiz', tag: '' })).toBe('untagged');
  });
});
