// The options of ltiaasGrades(): their joi schema, defaults, and the resolved config the package runs on.
import Joi from 'joi';
import type { Request } from 'express';
import { OptionsError } from './errors';
import { resolveLogger, type Logger, type ResolvedLogger } from './logger';
import { GradeOutbox } from './outbox/gradeOutbox';
import { isServiceKeyStore, type ServiceKeyStore } from './serviceKeys/serviceKeyStore';

/** Where the middleware looks for the ltik. */
export type LtikSource = 'query' | 'body' | 'header';

/** Retry policy for LTIAAS calls. */
export interface RetryOptions {
  /** Retries after the first attempt. Default `3`; `0` disables retrying. */
  retries?: number;
  /** Smallest wait before a retry, in ms. Default `200`. */
  minDelayMs?: number;
  /**
   * Largest wait before a retry, in ms. Default `5000`. A `Retry-After` longer than this is not
   * waited for inside the request: the call fails as retryable (and an outbox takes the grade).
   */
  maxDelayMs?: number;
}

/** Size and lifetime of one cache. */
export interface CacheOptions {
  /** Most entries kept (least recently used evicted first). Default `10000`. */
  max?: number;
  /** Lifetime of an entry in ms. Default 24 h (`86400000`); ID tokens at most 24 h, the life of an ltik. */
  ttlMs?: number;
}

/** Options of {@link ltiaasGrades}. */
export interface LtiaasGradesOptions {
  /** Base URL of your LTIAAS domain, http or https, any host and port, e.g. `https://your.ltiaas.com`. Required. */
  ltiaasUrl: string;
  /** Your LTIAAS API key. Required. Sent only to `ltiaasUrl`, never logged or exposed. */
  apiKey: string;
  /** Deadline of each LTIAAS call (per attempt) in ms. Default `10000`. */
  timeoutMs?: number;
  /** Retries of LTIAAS calls that failed in a way that may pass. Default `{ retries: 3, minDelayMs: 200, maxDelayMs: 5000 }`. */
  retry?: RetryOptions;
  /** Where the middleware looks for the ltik, in order. Default `['query', 'body', 'header']` (`?ltik=`, body field `ltik`, `Authorization: Bearer <ltik>`). */
  ltikSources?: LtikSource[];
  /**
   * Your own ltik finder, tried after `ltikSources` (e.g. the ltik you kept in a session).
   * Default: none.
   * @example extractLtik: (req) => req.session?.ltik
   */
  extractLtik?: (req: Request) => string | undefined | null;
  /** Cache sizes. Defaults: `idTokens { max: 10000, ttlMs: 24 h }` (an ltik lives 24 h), `lineItems { max: 10000, ttlMs: 24 h }`. */
  cache?: { idTokens?: CacheOptions; lineItems?: CacheOptions };
  /** Most open connections to LTIAAS (kept alive and reused). Default `64`. */
  maxSockets?: number;
  /** Where the package logs (console, pino, ...). Default: silent. */
  logger?: Logger;
  /**
   * Holds grades that cannot be delivered now (LTIAAS or the LMS unreachable, timing out,
   * 429/5xx after retries) and delivers them in the background, across restarts; `submitGrade`
   * then answers 202 `{ status: "queued", id }`. Default: none (those failures answer 5xx
   * `LTIAAS_UNAVAILABLE`, so the tool knows the grade did not land).
   * @example outbox: fileOutbox({ dir: '/var/lib/my-tool/outbox' })
   */
  outbox?: GradeOutbox;
  /**
   * Records the service key of every launch where grading is available (keyed by platform,
   * context and resource link, refreshed on each launch) for grading outside a launch. With a
   * store, the middleware reads each new launch's ID token in the background. Default: none.
   * @example serviceKeyStore: fileServiceKeyStore({ file: '/var/lib/my-tool/service-keys.json' })
   */
  serviceKeyStore?: ServiceKeyStore;
}

/** Options of `ltiaasClient()`: those of `ltiaasGrades()` without the ones about requests. */
export type LtiaasClientOptions = Omit<LtiaasGradesOptions, 'ltikSources' | 'extractLtik'>;

export interface ResolvedRetry {
  retries: number;
  minDelayMs: number;
  maxDelayMs: number;
}

/** The options after validation, with every default filled in. */
export interface ResolvedOptions {
  ltiaasUrl: string;
  apiKey: string;
  timeoutMs: number;
  retry: ResolvedRetry;
  ltikSources: LtikSource[];
  extractLtik?: (req: Request) => string | undefined | null;
  cache: { idTokens: Required<CacheOptions>; lineItems: Required<CacheOptions> };
  maxSockets: number;
  logger: ResolvedLogger;
  outbox?: GradeOutbox;
  serviceKeyStore?: ServiceKeyStore;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export const retrySchema = Joi.object({
  retries: Joi.number().integer().min(0).max(10).default(3),
  minDelayMs: Joi.number().integer().min(0).max(60_000).default(200),
  maxDelayMs: Joi.number().integer().min(0).max(600_000).default(5000),
})
  .custom((value: ResolvedRetry, helpers) =>
    value.minDelayMs > value.maxDelayMs ? helpers.error('retry.range') : value,
  )
  .messages({ 'retry.range': '{{#label}} needs minDelayMs <= maxDelayMs' })
  .default();

const cacheSchema = (max: number, ttlMs: number, maxTtlMs: number) =>
  Joi.object({
    max: Joi.number().integer().min(1).max(10_000_000).default(max),
    ttlMs: Joi.number().integer().min(1).max(maxTtlMs).default(ttlMs),
  }).default();

const isLogger = (value: unknown) =>
  typeof value === 'object' &&
  value !== null &&
  ['debug', 'info', 'warn', 'error'].some((level) => typeof (value as Record<string, unknown>)[level] === 'function');

const optionsSchema = Joi.object({
  ltiaasUrl: Joi.string()
    .trim()
    .uri({ scheme: ['http', 'https'] })
    .required()
    .custom((value: string) => value.replace(/\/+$/, '')),
  apiKey: Joi.string()
    .pattern(/^[^\s:]+$/)
    .required()
    .messages({ 'string.pattern.base': '{{#label}} must be the bare key, without spaces, ":" or a "Bearer " prefix' }),
  timeoutMs: Joi.number().integer().min(1).max(600_000).default(10_000),
  retry: retrySchema,
  ltikSources: Joi.array()
    .items(Joi.string().valid('query', 'body', 'header'))
    .unique()
    .default(['query', 'body', 'header']),
  extractLtik: Joi.function().maxArity(1),
  cache: Joi.object({
    idTokens: cacheSchema(10_000, DAY_MS, DAY_MS),
    lineItems: cacheSchema(10_000, DAY_MS, 30 * DAY_MS),
  }).default(),
  maxSockets: Joi.number().integer().min(1).max(10_000).default(64),
  logger: Joi.any().custom((value) => {
    if (!isLogger(value)) throw new Error('must have debug/info/warn/error methods (console or pino)');
    return value;
  }),
  // Instances are checked, not cloned: joi must hand back the very object the app passed.
  outbox: Joi.any().custom((value) => {
    if (!(value instanceof GradeOutbox)) throw new Error('must be made by fileOutbox({ dir })');
    return value;
  }),
  serviceKeyStore: Joi.any().custom((value) => {
    if (!isServiceKeyStore(value)) throw new Error('must have save, get and list methods');
    return value;
  }),
});

const clientSchema = optionsSchema.fork(['ltikSources', 'extractLtik'], (schema) => schema.forbidden());

/** How to fix each option, appended to the validation message. */
const FIXES: Record<string, string> = {
  ltiaasUrl: 'pass your LTIAAS domain, e.g. ltiaasUrl: "https://your.ltiaas.com"',
  apiKey: 'pass your LTIAAS API key, e.g. apiKey: process.env.LTIAAS_API_KEY',
  timeoutMs: 'pass a whole number of milliseconds, e.g. timeoutMs: 10000',
  retry: 'pass { retries: 0..10, minDelayMs, maxDelayMs } in milliseconds',
  ltikSources: 'pass a list of "query", "body", "header"',
  extractLtik: 'pass a function (req) => ltik or undefined',
  cache: 'pass { idTokens: { max, ttlMs }, lineItems: { max, ttlMs } }',
  maxSockets: 'pass a whole number, e.g. maxSockets: 64',
  logger: 'pass console or a pino logger',
  outbox: 'pass fileOutbox({ dir })',
  serviceKeyStore: 'pass fileServiceKeyStore({ file }) or an object with save, get and list',
};

const KNOWN_OPTIONS = Object.keys(FIXES);

/** Names the closest known option, so `apikey` or `timeout` get a useful hint. */
function closestOption(name: string): string | undefined {
  const lower = name.toLowerCase();
  return KNOWN_OPTIONS.find(
    (known) => known.toLowerCase() === lower || known.toLowerCase().startsWith(lower) || lower.startsWith(known.toLowerCase()),
  );
}

/** Turns joi's first complaint into one sentence naming the option and the fix (never the value). */
function describe(error: Joi.ValidationError, factory: string): string {
  const detail = error.details[0]!;
  const path = detail.path.join('.');
  const top = String(detail.path[0] ?? '');
  if (detail.type === 'object.unknown') {
    const hint = closestOption(String(detail.path[detail.path.length - 1]));
    return `${factory}(): unknown option "${path}"${hint ? `: did you mean "${hint}"?` : ''} Known options: ${KNOWN_OPTIONS.join(', ')}.`;
  }
  const fix = FIXES[top];
  return `${factory}(): option "${path}" is invalid: ${detail.message}${fix ? `; ${fix}` : ''}.`;
}

/** Validates the options once, at start-up; throws OptionsError naming the option and the fix. */
export function resolveOptions(input: unknown, factory: 'ltiaasGrades' | 'ltiaasClient' = 'ltiaasGrades'): ResolvedOptions {
  if (input === undefined || input === null || typeof input !== 'object') {
    throw new OptionsError(`${factory}(options): options are required, e.g. ${factory}({ ltiaasUrl, apiKey }).`);
  }
  // Catches `app.use(ltiaasGrades)`: Express would call the factory with (req, res, next).
  if ('method' in input && 'headers' in input) {
    throw new OptionsError(`${factory}() is a factory: write app.use(ltiaasGrades(options).middleware()).`);
  }
  const schema = factory === 'ltiaasClient' ? clientSchema : optionsSchema;
  const { value, error } = schema.validate(input, { abortEarly: true, convert: true });
  if (error) throw new OptionsError(describe(error, factory));
  return { ...value, logger: resolveLogger(value.logger) } as ResolvedOptions;
}
