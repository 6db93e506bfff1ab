// Per-call overrides (timeoutMs, retry): their schema and the policy a call runs with, checked before anything is sent.
import Joi from 'joi';
import { OptionsError } from '../errors';
import { mergeRetry, retryOverrideSchema, type ResolvedRetry, type RetryOptions } from './retrySchema';

/** Per-call overrides of the client's defaults. */
export interface CallOptions {
  /** Deadline of each attempt in ms (1 to 600000). Default: the client's `timeoutMs`. */
  timeoutMs?: number;
  /** Retry policy of this call; missing fields keep the client's. */
  retry?: RetryOptions;
}

/** A deadline in ms, the same bounds for the factory's `timeoutMs` and a call's. */
export const timeoutMsSchema = Joi.number().integer().min(1).max(600_000);

/** The override fields, for schemas of options that carry them (submitMany). */
export const callOptionFieldSchemas = { timeoutMs: timeoutMsSchema, retry: retryOverrideSchema } as const;

/** Other keys are let through: callers hand over their own options with theirs removed. */
const callOptionsSchema = Joi.object(callOptionFieldSchemas).unknown(true);

/** The override fields and their bounds, for the fix in a message. */
export const CALL_OPTION_FIELDS = 'timeoutMs: 1..600000, retry: { retries: 0..10, minDelayMs: 0..60000, maxDelayMs: 0..600000 }';

/** One sentence per problem, naming the option and never its value. */
export function describeCallOptionProblems(error: Joi.ValidationError): string {
  return error.details
    .map((detail) => (detail.type === 'object.unknown' ? `unknown option "${detail.path.join('.')}"` : `option "${detail.path.join('.')}" is invalid: ${detail.message}`))
    .join('; ');
}

/**
 * The deadline and retry policy of one call: the client's defaults with valid overrides on top.
 * Throws OptionsError (OPTIONS_INVALID) listing every problem; `where` names the method called.
 */
export function resolveCallOptions(
  options: CallOptions,
  defaults: { retry: ResolvedRetry; timeoutMs: number },
  where = 'Call options',
): { retry: ResolvedRetry; timeoutMs: number } {
  const { value, error } = callOptionsSchema.validate(options, { abortEarly: false });
  if (error) throw new OptionsError(`${where}: ${describeCallOptionProblems(error)}; pass { ${CALL_OPTION_FIELDS} }.`);
  const valid = value as CallOptions;
  const retry = mergeRetry(defaults.retry, valid.retry);
  if (!retry) throw new OptionsError(`${where}: option "retry" is invalid: with the client's retry settings filled in, it needs minDelayMs <= maxDelayMs.`);
  return { retry, timeoutMs: valid.timeoutMs ?? defaults.timeoutMs };
}
