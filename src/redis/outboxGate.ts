// The BullMQ outbox's shared outage state: how many deliveries failed in a row, until when every instance holds back, and the one probe allowed meanwhile.
//
// While LTIAAS or the LMS fails, the file outbox sends one probe per backoff round instead of
// every grade. Across instances the same rule needs shared state, kept in two keys beside the
// queue's: a hash { failures, until } and a probe lease (SET NX PX with a random token, renewed
// while the probe runs, deleted only by its holder). Each step is one Lua script, so two
// instances never both take the lease or both see "no outage" after one counted a failure.
// The pause itself is BullMQ's own global rate limit, set by the outbox to the same delay.
import { randomBytes } from 'node:crypto';
import { isLtiaasGradesError } from '../errors';
import { retryDelayMs } from '../client/retryPolicy';
import { deleteIfEqual, LuaScript, type RedisClientLike } from './redisClient';

/** A probe's lease: long enough for one delivery's calls, renewed every third of it, so a dead holder blocks the others this long at most. */
export const PROBE_LEASE_MS = 15_000;

/** What a worker may do with the job it holds. */
export type GateDecision = { kind: 'open' } | { kind: 'probe'; lease: ProbeLease } | { kind: 'wait'; waitMs: number };

export interface ProbeLease {
  /** Gives the lease up (only if still held by this probe). */
  release(): Promise<void>;
}

/** What the outage state holds, for stats(). */
export interface OutageState {
  consecutiveFailures: number;
  /** ms since epoch; 0 when there is no pause. */
  pausedUntil: number;
}

// Times are Redis's own (TIME), so that instances whose clocks differ agree on when a pause ends.
const NOW_MS = `local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)`;

// 0: no outage, deliver; -1: the lease is ours, probe; > 0: paused, or another probe runs: wait that long.
const enter = new LuaScript(`
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
if failures == 0 then return 0 end
${NOW_MS}
local untilMs = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if untilMs > now then return untilMs - now end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return -1 end
local ttl = redis.call('PTTL', KEYS[2])
if ttl < 1 then return 1 end
return ttl
`);

const renew = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

// ARGV[1] = '1': only when no pause is running (a grade queued while already paused adds no failure). Returns the new count, or -1.
const countFailure = new LuaScript(`
${NOW_MS}
if ARGV[1] == '1' and tonumber(redis.call('HGET', KEYS[1], 'until') or '0') > now then return -1 end
return redis.call('HINCRBY', KEYS[1], 'failures', 1)
`);

// Pauses for ARGV[1] ms from now, only while the outage is still on record (a success in between has ended it). Returns the end (ms since epoch).
const pauseFor = new LuaScript(`
${NOW_MS}
local untilMs = now + tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'until', untilMs) end
return untilMs
`);

const noFailures = new LuaScript(`return redis.call('HEXISTS', KEYS[1], 'failures') == 0 and 1 or 0`);

const endOutage = new LuaScript(`return redis.call('DEL', KEYS[1])`);

const readOutage = new LuaScript(`return redis.call('HMGET', KEYS[1], 'failures', 'until')`);

export class OutboxGate {
  private readonly outageKey: string;
  private readonly probeKey: string;

  constructor(
    /** BullMQ's key of the queue, `<prefix>:<queueName>`: the gate's keys sit beside the queue's (one hash slot with a `{tag}` prefix). */
    queueKey: string,
    private readonly backoff: { minDelayMs: number; maxDelayMs: number },
  ) {
    this.outageKey = `${queueKey}:outbox-outage`;
    this.probeKey = `${queueKey}:outbox-probe`;
  }

  /** Before a delivery: go ahead (no outage), probe (this worker took the lease), or wait (paused, or another probe runs). */
  async enter(redis: RedisClientLike): Promise<GateDecision> {
    const token = randomBytes(16).toString('hex');
    const answer = Number(await enter.run(redis, [this.outageKey, this.probeKey], [token, PROBE_LEASE_MS]));
    if (answer === 0) return { kind: 'open' };
    if (answer > 0) return { kind: 'wait', waitMs: answer };
    const renewal = setInterval(() => {
      renew.run(redis, [this.probeKey], [token, PROBE_LEASE_MS]).catch(() => undefined);
    }, PROBE_LEASE_MS / 3);
    renewal.unref();
    return {
      kind: 'probe',
      lease: {
        release: async () => {
          clearInterval(renewal);
          await deleteIfEqual.run(redis, [this.probeKey], [token]);
        },
      },
    };
  }

  /** True while no failure is on record: a delivery may go without taking part in a probe. */
  async noOutage(redis: RedisClientLike): Promise<boolean> {
    return Number(await noFailures.run(redis, [this.outageKey])) === 1;
  }

  /**
   * Counts a failure that may pass and opens (or extends) the pause of every instance:
   * exponential backoff with full jitter, Retry-After as a floor, never above `maxDelayMs`.
   * Resolves the pause in ms, or undefined when `onlyIfOpen` and a pause is already running.
   */
  async noteFailure(redis: RedisClientLike, error: unknown, onlyIfOpen = false): Promise<number | undefined> {
    const count = Number(await countFailure.run(redis, [this.outageKey], [onlyIfOpen ? '1' : '0']));
    if (count < 0) return undefined;
    const retryAfterMs = isLtiaasGradesError(error) ? error.upstream?.retryAfterMs : undefined;
    const delay = retryDelayMs(count - 1, { retries: 0, ...this.backoff }, retryAfterMs);
    await pauseFor.run(redis, [this.outageKey], [delay]);
    return delay;
  }

  /** LTIAAS answered: no outage any more. True when there was one (the caller then lifts the pause). */
  async end(redis: RedisClientLike): Promise<boolean> {
    return Number(await endOutage.run(redis, [this.outageKey])) === 1;
  }

  async read(redis: RedisClientLike): Promise<OutageState> {
    const [failures, until] = (await readOutage.run(redis, [this.outageKey])) as [string | null, string | null];
    return { consecutiveFailures: Number(failures ?? 0), pausedUntil: Number(until ?? 0) };
  }
}
