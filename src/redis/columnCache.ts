// The grade-book column (line item id) resolved once per (platform, context, resourceId, tag) across every instance, cached in Redis.
//
// Interface (what the wiring adapts to):
//   new RedisColumnCache(redis: RedisClientLike, lock: RedisLock, options?: { prefix?: string; ttlMs?: number; lockTtlMs?: number; waitMs?: number; now?: () => number })
//   columns.get(key: ColumnName): Promise<string | undefined>           the cached line item id
//   columns.set(key, lineItemId): Promise<void>                          stores (overwrites), with the cache TTL
//   columns.forget(key, lineItemId): Promise<boolean>                    on the LMS's 404: deletes only if the cache still holds that id
//   columns.resolveOnce(key, findOrCreate: (signal: AbortSignal) => Promise<string>): Promise<string>
//   columns.unreadableCreations(key) / setUnreadableCreations(key, n) / clearUnreadableCreations(key)
//                                                                        creations answered without a readable id, shared (see lineItemResolver.ts)
//   ColumnKey = { platformId: string; contextId: string; resourceId: string; tag?: string }
//   ColumnName = ColumnKey, or a string that already names one column unambiguously (the line item registry's key)
// What is cached is a string: a line item id, or (as the shared line item registry stores it)
// the JSON of the line item; `forget` compares it whole.
// `findOrCreate` must search the grade book before it creates (it may run after a holder that
// died having created the column); `signal` is aborted if this instance lost the lock meanwhile.
import { setTimeout as sleep } from 'node:timers/promises';
import { gradesError, type ErrorOf } from '../errors';
import { deleteIfEqual, LuaScript, type RedisClientLike } from './redisClient';
import { DEFAULT_LOCK_TTL_MS, DEFAULT_LOCK_WAIT_MS, pollDelayMs, type LockLease, type RedisLock } from './redisLock';

/** Names one grade-book column: the LMS (platform), the course (context), the activity and its tag. */
export interface ColumnKey {
  platformId: string;
  contextId: string;
  resourceId: string;
  /** No tag and an empty tag name the same column, as in the in-process resolver. */
  tag?: string;
}

export interface RedisColumnCacheOptions {
  /** Prepended to every key; default `ltiaas-grades:`. */
  prefix?: string;
  /** How long a resolved id is kept. Default 24 h; a 404 from the LMS forgets it sooner. */
  ttlMs?: number;
  /** The resolution lock's expiry (a dead resolver blocks the others at most this long). Default 10 s. */
  lockTtlMs?: number;
  /** How long a caller waits for another instance's resolution. Default 30 s. */
  waitMs?: number;
  now?: () => number;
}

/** A column's name: its parts, or a string that names it unambiguously (the line item registry's key, see lineItemResolver.ts). */
export type ColumnName = ColumnKey | string;

export const DEFAULT_COLUMN_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Stores the id unless one is there already, and answers the id the cache holds: the first
 * resolution stored wins, so an instance that resolved after losing its lock still converges
 * on the column every other instance uses.
 */
const storeFirst = new LuaScript(`
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`);

const store = new LuaScript(`
return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
`);

const remove = new LuaScript(`
return redis.call('DEL', KEYS[1])
`);

export class RedisColumnCache {
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly lockTtlMs: number;
  private readonly waitMs: number;
  private readonly now: () => number;
  /** Resolutions in flight in this process: concurrent callers here share one, and one poll loop. */
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(
    private readonly redis: RedisClientLike,
    private readonly lock: RedisLock,
    options: RedisColumnCacheOptions = {},
  ) {
    this.prefix = options.prefix ?? 'ltiaas-grades:';
    this.ttlMs = options.ttlMs ?? DEFAULT_COLUMN_TTL_MS;
    this.lockTtlMs = options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS;
    this.waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * One unambiguous string per column: JSON keeps separators inside ids from merging two keys.
   * A string name is one element, so it never equals the four parts of a ColumnKey.
   */
  private id(key: ColumnName): string {
    return typeof key === 'string' ? JSON.stringify([key]) : JSON.stringify([key.platformId, key.contextId, key.resourceId, key.tag ?? '']);
  }

  /** The Redis key of a column's cached id (for tests and operators). */
  keyOf(key: ColumnName): string {
    return `${this.prefix}column:${this.id(key)}`;
  }

  /** The Redis key of a column's count of creations answered without a readable id. */
  unreadableKeyOf(key: ColumnName): string {
    return `${this.prefix}column-unreadable:${this.id(key)}`;
  }

  /** The name of a column's resolution lock in `RedisLock`. */
  lockNameOf(key: ColumnName): string {
    return `column:${this.id(key)}`;
  }

  async get(key: ColumnName): Promise<string | undefined> {
    return (await this.redis.get(this.keyOf(key))) ?? undefined;
  }

  async set(key: ColumnName, lineItemId: string): Promise<void> {
    await store.run(this.redis, [this.keyOf(key)], [lineItemId, this.ttlMs]);
  }

  /** After the LMS answered 404 for `lineItemId`: forgets it, unless another instance already stored a newer id. */
  async forget(key: ColumnName, lineItemId: string): Promise<boolean> {
    return (await deleteIfEqual.run(this.redis, [this.keyOf(key)], [lineItemId])) === 1;
  }

  /**
   * Creations of this column that LTIAAS answered without a readable id, counted across every
   * instance: the resolver reads and raises it while holding the column's lock, so the bound on
   * such creations holds for all instances together. Kept as long as a resolved id.
   */
  async unreadableCreations(key: ColumnName): Promise<number> {
    const count = Number(await this.redis.get(this.unreadableKeyOf(key)));
    return Number.isInteger(count) && count > 0 ? count : 0;
  }

  async setUnreadableCreations(key: ColumnName, count: number): Promise<void> {
    await store.run(this.redis, [this.unreadableKeyOf(key)], [Math.max(0, Math.floor(count)), this.ttlMs]);
  }

  /** The column was found or created with a readable id: earlier unreadable creations no longer count. */
  async clearUnreadableCreations(key: ColumnName): Promise<void> {
    await remove.run(this.redis, [this.unreadableKeyOf(key)]);
  }

  /**
   * The column's id, resolved once across instances: the cache; else the lock, the cache again
   * (the holder before us may have just stored it), then `findOrCreate`, store, release. Waiting
   * callers read the cache between attempts at the lock, so they get the id as soon as it is
   * stored, without a second create. A failed `findOrCreate` stores nothing and is thrown.
   */
  resolveOnce(key: ColumnName, findOrCreate: (signal: AbortSignal) => Promise<string>): Promise<string> {
    const id = this.id(key);
    const pending = this.inFlight.get(id);
    if (pending) return pending;
    const resolution = this.resolve(key, findOrCreate).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, resolution);
    return resolution;
  }

  private async resolve(key: ColumnName, findOrCreate: (signal: AbortSignal) => Promise<string>): Promise<string> {
    const deadline = this.now() + this.waitMs;
    for (let attempt = 0; ; attempt += 1) {
      const cached = await this.get(key);
      if (cached !== undefined) return cached;
      const lease = await this.lock.tryAcquire(this.lockNameOf(key), this.lockTtlMs);
      if (lease) return this.resolveHolding(key, lease, findOrCreate);
      if (this.now() >= deadline) throw resolutionWaitTimedOut(this.waitMs);
      await sleep(pollDelayMs(attempt));
    }
  }

  private async resolveHolding(key: ColumnName, lease: LockLease, findOrCreate: (signal: AbortSignal) => Promise<string>): Promise<string> {
    const stop = this.lock.keepAlive(lease, this.lockTtlMs);
    try {
      // The previous holder may have stored the id between our read and our lock.
      const cached = await this.get(key);
      if (cached !== undefined) return cached;
      const lineItemId = await findOrCreate(lease.signal);
      return String(await storeFirst.run(this.redis, [this.keyOf(key)], [lineItemId, this.ttlMs]));
    } finally {
      stop();
      // Unreleased (Redis unreachable), the lock expires by itself; the id is already known.
      await lease.release().catch(() => false);
    }
  }
}

function resolutionWaitTimedOut(waitMs: number): ErrorOf<'COORDINATION_UNAVAILABLE'> {
  return gradesError('COORDINATION_UNAVAILABLE', { message: `Another instance has been finding or creating this grade-book column for over ${waitMs} ms; the grade was not sent, try again later.` });
}
