// redisCoordination(): the state several tool instances share through one Redis (locks, columns, ID tokens, score clock), options validated once.
//
// Interface (what the wiring adapts to):
//   redisCoordination(options: RedisCoordinationOptions): RedisCoordination
//   RedisCoordination = { prefix, lock: RedisLock, columns: RedisColumnCache, idTokens: RedisIdTokenCache, clock: RedisScoreClock }
import Joi from 'joi';
import { OptionsError } from '../errors';
import { DEFAULT_COLUMN_TTL_MS, RedisColumnCache } from './columnCache';
import { RedisIdTokenCache } from './idTokenCache';
import type { RedisClientLike } from './redisClient';
import { DEFAULT_LOCK_TTL_MS, DEFAULT_LOCK_WAIT_MS, RedisLock } from './redisLock';
import { DEFAULT_SCORE_CLOCK_TTL_MS, RedisScoreClock } from './scoreClock';

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
}

export interface RedisCoordination {
  readonly prefix: string;
  readonly lock: RedisLock;
  readonly columns: RedisColumnCache;
  readonly idTokens: RedisIdTokenCache;
  readonly clock: RedisScoreClock;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * ioredis, not any object with a `get`: node-redis has `get` and `eval` too, with other
 * signatures, and would fail at the first grade instead of at start-up.
 */
const ioredisClient = Joi.any()
  .required()
  .custom((value: unknown, helpers) => {
    const client = value as Record<string, unknown> | null;
    const looksLikeIoredis =
      typeof client === 'object' &&
      client !== null &&
      ['get', 'eval', 'evalsha', 'defineCommand', 'duplicate'].every((method) => typeof client[method] === 'function');
    return looksLikeIoredis ? value : helpers.error('any.ioredis');
  })
  .messages({
    'any.required': '{{#label}} is required: pass your ioredis client, as redis: new Redis(process.env.REDIS_URL)',
    'any.ioredis': '{{#label}} must be an ioredis client: new Redis(process.env.REDIS_URL) from the ioredis package (v5 or v6)',
  });

const schema = Joi.object<Required<RedisCoordinationOptions>>({
  redis: ioredisClient,
  prefix: Joi.string().max(200).default('ltiaas-grades:'),
  columnTtlMs: Joi.number().integer().min(1000).max(30 * DAY_MS).default(DEFAULT_COLUMN_TTL_MS),
  lockTtlMs: Joi.number().integer().min(100).max(10 * 60 * 1000).default(DEFAULT_LOCK_TTL_MS),
  lockWaitMs: Joi.number().integer().min(0).max(10 * 60 * 1000).default(DEFAULT_LOCK_WAIT_MS),
  scoreClockTtlMs: Joi.number().integer().min(1000).max(DAY_MS).default(DEFAULT_SCORE_CLOCK_TTL_MS),
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
  const { redis, prefix } = value;
  const lock = new RedisLock(redis, { prefix, ttlMs: value.lockTtlMs, waitMs: value.lockWaitMs });
  return {
    prefix,
    lock,
    columns: new RedisColumnCache(redis, lock, { prefix, ttlMs: value.columnTtlMs, lockTtlMs: value.lockTtlMs, waitMs: value.lockWaitMs }),
    idTokens: new RedisIdTokenCache(redis, { prefix }),
    clock: new RedisScoreClock(redis, { prefix, ttlMs: value.scoreClockTtlMs }),
  };
}
