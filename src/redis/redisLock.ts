// A lock in Redis with an owner token and an expiry: SET NX PX to take it, Lua compare-and-delete to release it.
//
// Interface (what the wiring adapts to):
//   new RedisLock(redis: RedisClientLike, options?: { prefix?: string; ttlMs?: number; waitMs?: number; now?: () => number })
//   lock.tryAcquire(name, ttlMs?): Promise<LockLease | undefined>      one attempt, no wait
//   lock.acquire(name, { ttlMs?, waitMs? }?): Promise<LockLease>       waits; after waitMs throws COORDINATION_UNAVAILABLE (503, retryable)
//   lock.release(name, token): Promise<boolean>                        true when this token held it and now nobody does
//   lock.refresh(name, token, ttlMs?): Promise<boolean>                true when this token still holds it (expiry pushed to ttlMs)
//   lock.keepAlive(lease, ttlMs?): () => void                          refreshes every ttlMs/3 until the returned stop() is called
//   lock.withLock(name, (lease) => Promise<T>, { ttlMs?, waitMs? }?): Promise<T>   acquire, keep alive, run, release
//   LockLease = { name, token, signal: AbortSignal (aborted when a refresh finds the lock taken over), release(), refresh() }
//
// Why our own SET NX PX rather than redis-semaphore's Mutex or @sesamecare-oss/redlock:
// - What a column resolution needs is four one-command operations: take (SET NX PX with a random
//   token), wait (poll), release by token (Lua compare-and-delete), refresh by token (Lua
//   compare-and-PEXPIRE). redis-semaphore's Mutex does exactly these too (it also polls while
//   waiting), so the library would add no algorithm we lack, only a package.
// - That package would be a runtime dependency of every install of express-ltiaas-grades (the
//   `dependencies` list is per package, not per subpath), most of which never use Redis; this
//   subpath otherwise needs nothing but the ioredis client the application passes in.
// - Redlock's multi-master quorum does not apply: one Redis (or a primary with replicas) is the
//   deployment this package supports, and BullMQ needs the same.
// - The library's refresh loop, on losing the lock, by default throws from a timer (an uncaught
//   exception that ends the process); we would have to override it anyway. Here a lost lock
//   aborts `lease.signal`, and the caller decides.
// A holder that dies stops refreshing, so its lock expires after at most `ttlMs` and a waiter
// takes over; the token makes sure a late release or refresh from the old holder changes nothing.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { gradesError, type ErrorOf } from '../errors';
import { deleteIfEqual, LuaScript, type RedisClientLike } from './redisClient';

export interface LockLease {
  /** The lock's name, as given to `acquire` (without the key prefix). */
  readonly name: string;
  /** This holder's random token: only it releases or refreshes the lock. */
  readonly token: string;
  /** Aborted when a refresh finds the lock expired and taken (or deleted): another may now hold it. */
  readonly signal: AbortSignal;
  /** Releases the lock if this lease still holds it; true when it did. */
  release(): Promise<boolean>;
  /** Pushes the expiry `ttlMs` ahead if this lease still holds the lock; false (and `signal` aborted) when it does not. */
  refresh(ttlMs?: number): Promise<boolean>;
}

export interface RedisLockOptions {
  /** Prepended to every key; default `ltiaas-grades:`. */
  prefix?: string;
  /** How long a lock lives without a refresh (a dead holder blocks others at most this long). Default 10 s. */
  ttlMs?: number;
  /** How long `acquire` waits for a held lock before it gives up. Default 30 s. */
  waitMs?: number;
  /** The clock for `waitMs` (the expiry itself is Redis's clock). */
  now?: () => number;
}

export const DEFAULT_LOCK_TTL_MS = 10_000;
export const DEFAULT_LOCK_WAIT_MS = 30_000;

const takeLock = new LuaScript(`
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
`);

const refreshIfHolder = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`);

/** Delay before the n-th retry of a held lock: 5 ms doubling to 100 ms, with jitter so waiters do not poll in step. */
export function pollDelayMs(attempt: number): number {
  const ceiling = Math.min(100, 5 * 2 ** Math.min(attempt, 5));
  return Math.ceil(ceiling / 2 + Math.random() * (ceiling / 2));
}

export class RedisLock {
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly waitMs: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClientLike,
    options: RedisLockOptions = {},
  ) {
    this.prefix = options.prefix ?? 'ltiaas-grades:';
    this.ttlMs = options.ttlMs ?? DEFAULT_LOCK_TTL_MS;
    this.waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
    this.now = options.now ?? Date.now;
  }

  /** The Redis key of a lock (for tests and operators). */
  keyOf(name: string): string {
    return `${this.prefix}lock:${name}`;
  }

  /** One attempt: the lease when the lock was free, undefined when someone holds it. */
  async tryAcquire(name: string, ttlMs: number = this.ttlMs): Promise<LockLease | undefined> {
    const token = randomBytes(18).toString('base64url');
    const taken = await takeLock.run(this.redis, [this.keyOf(name)], [token, Math.ceil(ttlMs)]);
    return taken === 1 ? this.lease(name, token, ttlMs) : undefined;
  }

  /** Waits for the lock, polling; throws COORDINATION_UNAVAILABLE (503, retryable) after `waitMs`. */
  async acquire(name: string, options: { ttlMs?: number; waitMs?: number } = {}): Promise<LockLease> {
    const deadline = this.now() + (options.waitMs ?? this.waitMs);
    for (let attempt = 0; ; attempt += 1) {
      const lease = await this.tryAcquire(name, options.ttlMs);
      if (lease) return lease;
      if (this.now() >= deadline) throw lockWaitTimedOut(options.waitMs ?? this.waitMs);
      await sleep(pollDelayMs(attempt));
    }
  }

  /** Deletes the lock only if `token` holds it: a late release from an expired holder frees nobody else's lock. */
  async release(name: string, token: string): Promise<boolean> {
    return (await deleteIfEqual.run(this.redis, [this.keyOf(name)], [token])) === 1;
  }

  /** Extends the lock only if `token` still holds it. */
  async refresh(name: string, token: string, ttlMs: number = this.ttlMs): Promise<boolean> {
    return (await refreshIfHolder.run(this.redis, [this.keyOf(name)], [token, Math.ceil(ttlMs)])) === 1;
  }

  /**
   * Refreshes the lease every third of its life while a slow holder works (a column creation
   * retried against a slow LMS), so it does not expire under a live holder. A failed refresh
   * call (Redis briefly unreachable) is tried again at the next tick; a refused one aborts
   * `lease.signal` and stops. Returns stop().
   */
  keepAlive(lease: LockLease, ttlMs: number = this.ttlMs): () => void {
    const timer = setInterval(() => {
      lease.refresh(ttlMs).then(
        (held) => {
          if (!held) clearInterval(timer);
        },
        () => undefined,
      );
    }, Math.max(1, Math.floor(ttlMs / 3)));
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Runs `work` holding the lock (kept alive meanwhile) and releases it after, whatever `work` did. */
  async withLock<T>(name: string, work: (lease: LockLease) => Promise<T>, options: { ttlMs?: number; waitMs?: number } = {}): Promise<T> {
    const lease = await this.acquire(name, options);
    const stop = this.keepAlive(lease, options.ttlMs);
    try {
      return await work(lease);
    } finally {
      stop();
      // Unreleased (Redis unreachable), the lock still expires by itself.
      await lease.release().catch(() => false);
    }
  }

  private lease(name: string, token: string, ttlMs: number): LockLease {
    const lost = new AbortController();
    return {
      name,
      token,
      signal: lost.signal,
      release: () => this.release(name, token),
      refresh: async (nextTtlMs = ttlMs) => {
        const held = await this.refresh(name, token, nextTtlMs);
        if (!held) lost.abort(new Error(`lock "${name}" expired and was taken over or removed`));
        return held;
      },
    };
  }
}

function lockWaitTimedOut(waitMs: number): ErrorOf<'COORDINATION_UNAVAILABLE'> {
  return gradesError('COORDINATION_UNAVAILABLE', { message: `Another instance held the lock for this work for over ${waitMs} ms (waited that long); try again later.` });
}
