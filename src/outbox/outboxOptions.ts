// The options every outbox takes (concurrency, retry, maxAgeMs): joi schema, defaults and messages naming the fix.
import Joi from 'joi';
import { OptionsError } from '../errors';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** A pause between probes longer than this would leave grades waiting for no reason once LTIAAS is back. */
export const MAX_RETRY_DELAY_MS = HOUR_MS;
const DEFAULT_MIN_DELAY_MS = 1000;

export interface ResolvedOutboxOptions {
  concurrency: number;
  retry: { minDelayMs: number; maxDelayMs: number };
  maxAgeMs: number;
}

const retrySchema = Joi.object({
  minDelayMs: Joi.number().integer().min(1),
  maxDelayMs: Joi.number().integer().min(1).max(MAX_RETRY_DELAY_MS).default(60_000),
})
  .custom((value: { minDelayMs?: number; maxDelayMs: number }, helpers) => {
    // The default minimum follows a small maximum, so { maxDelayMs: 500 } alone is valid.
    const minDelayMs = value.minDelayMs ?? Math.min(DEFAULT_MIN_DELAY_MS, value.maxDelayMs);
    if (minDelayMs > value.maxDelayMs) return helpers.error('retry.range');
    return { minDelayMs, maxDelayMs: value.maxDelayMs };
  })
  .messages({ 'retry.range': '"retry.minDelayMs" must be less than or equal to "retry.maxDelayMs"' })
  .default();

export const outboxOptionsFields = {
  concurrency: Joi.number().integer().min(1).max(256).default(8),
  retry: retrySchema,
  maxAgeMs: Joi.number().integer().min(1000).default(7 * DAY_MS),
};

/** How to fix each option, appended to the validation message. */
export const OUTBOX_FIXES: Record<string, string> = {
  dir: "pass the outbox folder, e.g. { dir: '/var/lib/my-tool/outbox' }",
  concurrency: 'pass a whole number from 1 to 256, e.g. concurrency: 8',
  retry: `pass retry: { minDelayMs, maxDelayMs } in milliseconds with 1 <= minDelayMs <= maxDelayMs <= ${MAX_RETRY_DELAY_MS} (1 hour), e.g. { minDelayMs: 1000, maxDelayMs: 60000 }`,
  maxAgeMs: 'pass milliseconds, at least 1000, e.g. maxAgeMs: 604800000 (7 days)',
};

/** Validates with `schema`; throws OptionsError naming the option and the fix (never the value). */
export function validateOutboxOptions<T>(schema: Joi.ObjectSchema, input: unknown, factory: string): T {
  const { value, error } = schema.validate(input ?? {});
  if (!error) return value as T;
  const detail = error.details[0]!;
  const option = detail.path.join('.');
  if (detail.type === 'object.unknown') {
    const known = Object.keys((schema.describe() as { keys?: Record<string, unknown> }).keys ?? {});
    throw new OptionsError(`${factory}: unknown option "${option}"; known options: ${known.join(', ')}.`);
  }
  const fix = OUTBOX_FIXES[String(detail.path[0] ?? '')];
  const where = option ? `option "${option}" is invalid: ` : '';
  throw new OptionsError(`${factory}: ${where}${detail.message}${fix ? `; ${fix}` : ''}.`);
}

const outboxOptionsSchema = Joi.object(outboxOptionsFields);

/** The options of an outbox with any storage (`storageOutbox(storage, options)`). */
export const resolveOutboxOptions = (input: unknown): ResolvedOutboxOptions =>
  validateOutboxOptions<ResolvedOutboxOptions>(outboxOptionsSchema, input, 'storageOutbox()');
