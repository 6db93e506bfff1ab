// The options every outbox takes (concurrency, retry, maxAgeMs, its clock and timer): joi schema, defaults and messages naming the fix.
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
  now: () => number;
  setTimeout: (callback: () => void, delayMs: number) => unknown;
  clearTimeout: (timer: unknown) => void;
}

// Read at call time, not captured: a test that replaces the globals (jest's fake timers, a spy) reaches the outbox too.
const systemNow = (): number => Date.now();
const systemSetTimeout = (callback: () => void, delayMs: number): unknown => setTimeout(callback, delayMs);
const systemClearTimeout = (timer: unknown): void => clearTimeout(timer as NodeJS.Timeout);

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

// A function default is given as a function returning it (joi calls a function default to make the value).
export const outboxOptionsFields = {
  concurrency: Joi.number().integer().min(1).max(256).default(8),
  retry: retrySchema,
  maxAgeMs: Joi.number().integer().min(1000).default(7 * DAY_MS),
  now: Joi.function().default(() => systemNow),
  // No default here: the pair is checked first (see outboxSchema), then both default together.
  setTimeout: Joi.function(),
  clearTimeout: Joi.function(),
};

/**
 * An outbox schema over `fields`: unknown keys refused, and a timer of one's own comes with the
 * clearTimeout that cancels it (the global clearTimeout cannot cancel another's timers); without
 * either, both are the globals.
 */
export const outboxSchema = (fields: Joi.PartialSchemaMap): Joi.ObjectSchema =>
  Joi.object(fields)
    .and('setTimeout', 'clearTimeout')
    .messages({ 'object.and': 'setTimeout and clearTimeout go together: pass both or neither' })
    .custom((value: Partial<ResolvedOutboxOptions>) => ({
      ...value,
      setTimeout: value.setTimeout ?? systemSetTimeout,
      clearTimeout: value.clearTimeout ?? systemClearTimeout,
    }));

/** How to fix each option, appended to the validation message. */
export const OUTBOX_FIXES: Record<string, string> = {
  dir: "pass the outbox folder, e.g. { dir: '/var/lib/my-tool/outbox' }",
  concurrency: 'pass a whole number from 1 to 256, e.g. concurrency: 8',
  retry: `pass retry: { minDelayMs, maxDelayMs } in milliseconds with 1 <= minDelayMs <= maxDelayMs <= ${MAX_RETRY_DELAY_MS} (1 hour), e.g. { minDelayMs: 1000, maxDelayMs: 60000 }`,
  maxAgeMs: 'pass milliseconds, at least 1000, e.g. maxAgeMs: 604800000 (7 days)',
  now: 'pass a function () => milliseconds since the epoch, e.g. now: () => Date.now()',
  setTimeout: 'pass a function (callback, delayMs) => timer, with the clearTimeout that cancels its timers',
  clearTimeout: 'pass a function (timer) => void that cancels a timer your setTimeout returned',
};

/** One complaint: the option, what is wrong and the fix, never the value. */
function describeProblem(detail: Joi.ValidationErrorItem, schema: Joi.ObjectSchema): string {
  const option = detail.path.join('.');
  if (detail.type === 'object.unknown') {
    const known = Object.keys((schema.describe() as { keys?: Record<string, unknown> }).keys ?? {});
    return `unknown option "${option}"; known options: ${known.join(', ')}`;
  }
  const fix = OUTBOX_FIXES[String(detail.path[0] ?? '')];
  const where = option ? `option "${option}" is invalid: ` : '';
  return `${where}${detail.message}${fix ? `; ${fix}` : ''}`;
}

/** Validates with `schema`; throws OptionsError naming every problem and its fix at once (never a value). */
export function validateOutboxOptions<T>(schema: Joi.ObjectSchema, input: unknown, factory: string): T {
  const { value, error } = schema.validate(input ?? {}, { abortEarly: false });
  if (!error) return value as T;
  const problems = error.details.map((detail) => describeProblem(detail, schema));
  if (problems.length === 1) throw new OptionsError(`${factory}: ${problems[0]}.`);
  throw new OptionsError(`${factory}: ${problems.length} problems with the options:\n${problems.map((problem) => `- ${problem}`).join('\n')}`);
}

const outboxOptionsSchema = outboxSchema(outboxOptionsFields);

/** The options of an outbox with any storage (`storageOutbox(storage, options)`). */
export const resolveOutboxOptions = (input: unknown): ResolvedOutboxOptions =>
  validateOutboxOptions<ResolvedOutboxOptions>(outboxOptionsSchema, input, 'storageOutbox()');
