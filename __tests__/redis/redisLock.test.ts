// RedisLock against a real redis-server: one holder at a time across clients, takeover after a dead holder's expiry, release and refresh only by the holder's token.
import { RedisLock } from '../../src/redis/redisLock';
import { isLtiaasGradesError } from '../../src/errors';
import { countingClient } from './countingClient';
import { startRedisServer, type RedisTestServer } from './redisServer';

let server: RedisTestServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

/** Tracks whether a promise has settled, without waiting for it. */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  return { promise, settled: () => done };
}

describe('RedisLock', () => {
  it('lets one of two contending clients hold the lock; the other waits, then gets it once the first releases', async () => {
    const first = new RedisLock(server.client(), { prefix: 'contend:' });
    const secondClient = countingClient(server.client());
    const second = new RedisLock(secondClient, { prefix: 'contend:' });
    const observer = server.client();

    const held = await first.acquire('column-a');
    const waiting = track(second.acquire('column-a'));
    // Several refused attempts, and the second client still has nothing.
    await secondClient.reached(4);
    expect(waiting.settled()).toBe(false);
    expect(await observer.get(first.keyOf('column-a'))).toBe(held.token);

    expect(await held.release()).toBe(true);
    const lease = await waiting.promise;
    expect(lease.token).not.toBe(held.token);
    expect(await observer.get(second.keyOf('column-a'))).toBe(lease.token);
    expect(await lease.release()).toBe(true);
    expect(await observer.exists(second.keyOf('column-a'))).toBe(0);
  });

  it('lets another client take over after the expiry when the holder disconnects without releasing (a dead process), and the dead holder\'s late release frees nothing', async () => {
    const deadClient = server.client();
    const dead = new RedisLock(deadClient, { prefix: 'dead:', ttlMs: 300 });
    const survivor = new RedisLock(server.client(), { prefix: 'dead:', ttlMs: 10_000 });
    const observer = server.client();

    const abandoned = await dead.acquire('column-b');
    deadClient.disconnect();
    // The dead holder's lock is still there: nobody can take it before it expires.
    expect(await survivor.tryAcquire('column-b')).toBeUndefined();
    expect(await observer.pttl(dead.keyOf('column-b'))).toBeGreaterThan(0);

    const lease = await survivor.acquire('column-b', { waitMs: 10_000 });
    expect(await observer.get(survivor.keyOf('column-b'))).toBe(lease.token);
    // The old holder's token, from any client, no longer releases anything.
    expect(await survivor.release('column-b', abandoned.token)).toBe(false);
    expect(await observer.get(survivor.keyOf('column-b'))).toBe(lease.token);
    await lease.release();
  });

  it('does nothing on a release or refresh with a wrong token', async () => {
    const lock = new RedisLock(server.client(), { prefix: 'wrong:' });
    const other = new RedisLock(server.client(), { prefix: 'wrong:' });
    const observer = server.client();
    const lease = await lock.acquire('column-c', { ttlMs: 5_000 });

    expect(await other.release('column-c', 'not-the-token')).toBe(false);
    expect(await other.refresh('column-c', 'not-the-token', 60_000)).toBe(false);
    expect(await observer.get(lock.keyOf('column-c'))).toBe(lease.token);
    expect(await observer.pttl(lock.keyOf('column-c'))).toBeLessThanOrEqual(5_000);
    expect(await other.tryAcquire('column-c')).toBeUndefined();
    expect(await lease.release()).toBe(true);
  });

  it('keeps a slow holder\'s lock alive while its work runs (withLock refreshes it), and frees it after', async () => {
    const holderClient = countingClient(server.client());
    const holder = new RedisLock(holderClient, { prefix: 'slow:', ttlMs: 150 });
    const other = new RedisLock(server.client(), { prefix: 'slow:' });
    const observer = server.client();

    const result = await holder.withLock('column-d', async (lease) => {
      // Work that outlives the lock's 150 ms ttl: it waits for six more scripts from the holder's client, which runs only refreshes (one per 50 ms) meanwhile.
      const start = holderClient.scripts;
      for (let refreshes = 1; refreshes <= 6; refreshes += 1) {
        await holderClient.reached(start + refreshes);
        expect(await other.tryAcquire('column-d')).toBeUndefined();
      }
      expect(await observer.get(holder.keyOf('column-d'))).toBe(lease.token);
      expect(lease.signal.aborted).toBe(false);
      return 'created';
    });
    expect(result).toBe('created');
    expect(await observer.exists(holder.keyOf('column-d'))).toBe(0);
  });

  it('aborts the lease\'s signal when a refresh finds the lock taken over', async () => {
    const lock = new RedisLock(server.client(), { prefix: 'lost:' });
    const observer = server.client();
    const lease = await lock.acquire('column-e');
    // As if the lease had expired and another instance had taken the lock.
    await observer.set(lock.keyOf('column-e'), 'someone-else');
    expect(await lease.refresh()).toBe(false);
    expect(lease.signal.aborted).toBe(true);
    expect(await lease.release()).toBe(false);
    expect(await observer.get(lock.keyOf('column-e'))).toBe('someone-else');
  });

  it('gives up waiting after waitMs with COORDINATION_UNAVAILABLE (503, retryable)', async () => {
    const holder = new RedisLock(server.client(), { prefix: 'timeout:' });
    const waiter = new RedisLock(server.client(), { prefix: 'timeout:', waitMs: 0 });
    const lease = await holder.acquire('column-f');
    const failure = await waiter.acquire('column-f').catch((error: unknown) => error);
    expect(isLtiaasGradesError(failure)).toBe(true);
    expect(failure).toMatchObject({ status: 503, code: 'COORDINATION_UNAVAILABLE', retryable: true });
    await lease.release();
  });

  it('runs its scripts after the server forgot them (SCRIPT FLUSH, as after a restart)', async () => {
    const lock = new RedisLock(server.client(), { prefix: 'flush:' });
    const first = await lock.acquire('column-g');
    await first.release();
    await server.client().script('FLUSH');
    const second = await lock.acquire('column-g');
    expect(await second.release()).toBe(true);
  });
});
