// The `redis` option of the subpath's factories: the application's own ioredis client, checked by shape at start-up.
import Joi from 'joi';

/**
 * ioredis, not any object with a `get`: node-redis has `get` and `eval` too, with other
 * signatures, and would fail at the first grade instead of at start-up. The client is never
 * described in a message (its options hold the Redis password).
 */
export const ioredisClient = Joi.any()
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
