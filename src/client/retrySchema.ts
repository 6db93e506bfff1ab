// The one joi schema of retry settings, shared by the factory options, per-call overrides and submitMany.
import Joi from 'joi';

/** Retry policy for LTIAAS calls. */
export interface RetryOptions {
  /** Retries after the first attempt. Default `3`; `0` disables retrying. At most `10`. */
  retries?: number;
  /** Smallest wait before a retry, in ms. Default `200`. At most `60000`. */
  minDelayMs?: number;
  /**
   * Largest wait before a retry, in ms. Default `5000`. At most `600000`. A `Retry-After` longer
   * than this is not waited for inside the request: the call fails as retryable (and an outbox
   * takes the grade).
   */
  maxDelayMs?: number;
}

/** A retry policy with every field filled in. */
export type ResolvedRetry = Required<RetryOptions>;

export const DEFAULT_RETRY: Readonly<ResolvedRetry> = Object.freeze({ retries: 3, minDelayMs: 200, maxDelayMs: 5000 });

/**
 * The fields, each with its bounds and no default: a building block for every schema that takes
 * retry settings (pick the fields you need, add defaults with `.default()`).
 */
export const retryFieldSchemas = {
  retries: Joi.number().integer().min(0).max(10),
  minDelayMs: Joi.number().integer().min(0).max(60_000),
  maxDelayMs: Joi.number().integer().min(0).max(600_000),
} as const;

/** Error code and message of the range rule; the message names the fields, never their values. */
export const DELAY_RANGE_MESSAGES = { 'retry.range': '{{#label}} needs minDelayMs <= maxDelayMs' } as const;

/** joi `custom` rule: when both delays are present, the smallest may not exceed the largest. */
export function checkDelayRange<T extends { minDelayMs?: number; maxDelayMs?: number }>(value: T, helpers: Joi.CustomHelpers): T | Joi.ErrorReport {
  return value.minDelayMs !== undefined && value.maxDelayMs !== undefined && value.minDelayMs > value.maxDelayMs
    ? helpers.error('retry.range')
    : value;
}

/** Any subset of the retry fields, as a per-call override gives them (missing fields keep the client's). */
export const retryOverrideSchema = Joi.object(retryFieldSchemas).custom(checkDelayRange).messages(DELAY_RANGE_MESSAGES);

/** The factory's `retry` option: missing fields (or the whole object) get the defaults. */
export const retryOptionsSchema = Joi.object({
  retries: retryFieldSchemas.retries.default(DEFAULT_RETRY.retries),
  minDelayMs: retryFieldSchemas.minDelayMs.default(DEFAULT_RETRY.minDelayMs),
  maxDelayMs: retryFieldSchemas.maxDelayMs.default(DEFAULT_RETRY.maxDelayMs),
})
  .custom(checkDelayRange)
  .messages(DELAY_RANGE_MESSAGES)
  .default();

/**
 * The policy a call runs with: `base` (already valid) with an override (already validated with
 * `retryOverrideSchema`) on top; undefined when the merged delays are out of order, as
 * `{ minDelayMs: 9000 }` alone is valid and still exceeds the default `maxDelayMs`.
 */
export function mergeRetry(base: ResolvedRetry, override: RetryOptions | undefined): ResolvedRetry | undefined {
  const given = Object.entries(override ?? {}).filter((entry) => entry[1] !== undefined);
  const retry: ResolvedRetry = { ...base, ...Object.fromEntries(given) };
  return retry.minDelayMs > retry.maxDelayMs ? undefined : retry;
}
