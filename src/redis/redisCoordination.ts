// redisCoordination(): the state several tool instances share through one Redis (locks, columns, ID tokens, score clock), options validated once.
//
// Interface:
//   redisCoordination(options: RedisCoordinationOptions): RedisCoordination
//   RedisCoordination = { sharedThrough: 'redis', prefix, lock: RedisLock, columns: RedisColumnCache, idTokens: RedisIdTokenCache, clock: RedisScoreClock }
//   and, for the wiring only (CoordinationProvider in src/state/coordination.ts):
//   sharedState({ local, logger, idTokenTtlMs }) => { idTokens, lineItems, clock, close }
// Every piece sends its commands through one RedisReachability (see reachability.ts), so a
// Redis that does not answer costs a grade at most `commandTimeoutMs`, once, and the instances
// then go on with their in-process state until it answers again.
import Joi from 'joi';
import { OptionsError } from '../errors';
import type { CoordinatedInstance, CoordinationProvider, SharedState } from '../state/coordination';
import { DEFAULT_COLUMN_TTL_MS, RedisColumnCache } from './columnCache';
import { RedisIdTokenCache } from './idTokenCache';
import { ioredisClient } from './ioredisOption';
import { RedisReachability, type ReachabilityChange } from './reachability';
import type { RedisClientLike } from './redisClient';
import { DEFAULT_LOCK_TTL_MS, DEFAULT_LOCK_WAIT_MS, RedisLock } from './redisLock';
import { DEFAULT_SCORE_CLOCK_TTL_MS, RedisScoreClock } from './scoreClock';
import { SharedIdTokenCache } from './sharedIdTokenCache';
import { SharedLineItemRegistry } from './sharedLineItemRegistry';
import { SharedScoreClock } from './sharedScoreClock';

export interface RedisCoordinationOptions {
  /** An ioredis client (`new Redis(process.env.REDIS_URL)`), shared by every piece; the application closes it. */
  redis: RedisClientLike;
  /** Prepended to every key, so several tools (or test runs) can share one Redis. Default `ltiaas-grades:`. */
  prefix?: string;
  /** How long a resolved grade-book column id is cached. Default 24 h (at most 30 days). */
  columnTtlMs?: number;
  /** Expiry of a column-resolution lock: an instance that dies while resolving blocks the others at most this long. Default 10 s. */
  lockTtlMs?: number;
  /** How long an instance waits for another's column resolution before answering 503 COORDINATION_UNAVAILABLE (retryable). Default 30 s. */
  lockWaitMs?: number;
  /** How long a student's last score timestamp is kept. Default 10 min. */
  scoreClockTtlMs?: number;
  /**
   * How long one Redis command may take before Redis counts as not answering and the instance
   * goes on with its in-process state (one warning logged). Default 1000 ms.
   */
  commandTimeoutMs?: number;
  /** While Redis does not answer, how often (at most) a passing grade sends one probe to see whether it answers again. Default 1000 ms. */
  probeIntervalMs?: number;
}

/** State shared by several instances of one tool through one Redis: pass it as `ltiaasGrades({ coordination })`. */
export interface RedisCoordination {
  readonly sharedThrough: 'redis';
  readonly prefix: string;
  readonly lock: RedisLock;
  readonly columns: RedisColumnCache;
  readonly idTokens: RedisIdTokenCache;
  readonly clock: RedisScoreClock;
}

const DAY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000;
export const DEFAULT_PROBE_INTERVAL_MS = 1000;

/** Its scripts stamp one student under several keys at once, which Redis Cluster refuses across slots (CROSSSLOT). */
const oneRedis = ioredisClient
  .custom((value: unknown, helpers) => ((value as { isCluster?: unknown }).isCluster === true ? helpers.error('any.cluster') : value))
  .messages({ 'any.cluster': '{{#label}} is a Redis Cluster client: the coordination needs one Redis (or a primary with replicas), as its scripts use several keys at once' });

const schema = Joi.object<Required<RedisCoordinationOptions>>({
  redis: oneRedis,
  prefix: Joi.string().max(200).default('ltiaas-grades:'),
  columnTtlMs: Joi.number().integer().min(1000).max(30 * DAY_MS).default(DEFAULT_COLUMN_TTL_MS),
  lockTtlMs: Joi.number().integer().min(100).max(10 * 60 * 1000).default(DEFAULT_LOCK_TTL_MS),
  lockWaitMs: Joi.number().integer().min(0).max(10 * 60 * 1000).default(DEFAULT_LOCK_WAIT_MS),
  scoreClockTtlMs: Joi.number().integer().min(1000).max(DAY_MS).default(DEFAULT_SCORE_CLOCK_TTL_MS),
  commandTimeoutMs: Joi.number().integer().min(1).max(60_000).default(DEFAULT_COMMAND_TIMEOUT_MS),
  probeIntervalMs: Joi.number().integer().min(0).max(10 * 60 * 1000).default(DEFAULT_PROBE_INTERVAL_MS),
});

/**
 * Shared state for several instances of one tool. Pass it to `ltiaasGrades({ coordination })`.
 * @example
 * import Redis from 'ioredis';
 * const coordination = redisCoordination({ redis: new Redis(process.env.REDIS_URL) });
 */
export function redisCoordination(options: RedisCoordinationOptions): RedisCoordination {
  if (options === undefined || options === null || typeof options !== 'object') {
    throw new OptionsError('redisCoordination(options): options are required, e.g. redisCoordination({ redis: new Redis(process.env.REDIS_URL) }).');
  }
  const { value, error } = schema.validate(options, { abortEarly: false });
  if (error) {
    const problems = error.details.map((detail) => detail.message);
    throw new OptionsError(`redisCoordination(): ${problems.join('; ')}.`);
  }
  const { prefix } = value;
  const reachability = new RedisReachability(value.redis, {
    commandTimeoutMs: value.commandTimeoutMs,
    probeIntervalMs: value.probeIntervalMs,
    probeKey: `${prefix}probe`,
  });
  const redis = reachability.client;
  const lock = new RedisLock(redis, { prefix, ttlMs: value.lockTtlMs, waitMs: value.lockWaitMs });
  const columns = new RedisColumnCache(redis, lock, { prefix, ttlMs: value.columnTtlMs, lockTtlMs: value.lockTtlMs, waitMs: value.lockWaitMs });
  const idTokens = new RedisIdTokenCache(redis, { prefix });
  const clock = new RedisScoreClock(redis, { prefix, ttlMs: value.scoreClockTtlMs });
  const coordination: RedisCoordination & CoordinationProvider = {
    sharedThrough: 'redis',
    prefix,
    lock,
    columns,
    idTokens,
    clock,
    sharedState: (instance: CoordinatedInstance): SharedState => {
      const stopTelling = reachability.onChange((change) => logChange(instance, change));
      return {
        idTokens: new SharedIdTokenCache(instance.local.idTokens, idTokens, reachability, instance.idTokenTtlMs),
        lineItems: new SharedLineItemRegistry(instance.local.lineItems, columns, reachability),
        clock: new SharedScoreClock(instance.local.clock, clock, reachability),
        close: stopTelling,
      };
    },
  };
  return coordination;
}

/** One line per change, on each instance's logger: a Redis outage is one warning, not one per grade. */
function logChange({ logger }: CoordinatedInstance, change: ReachabilityChange): void {
  if (change.answering) {
    logger.info({ sharedThrough: 'redis' }, 'Redis answers again: this instance shares grade-book columns, ID tokens and the score clock with the others again');
  } else {
    logger.warn(
      { sharedThrough: 'redis', reason: change.reason },
      'Redis does not answer: this instance goes on grading with its own in-process columns, ID tokens and score clock until it does (grades are still sent)',
    );
  }
}
