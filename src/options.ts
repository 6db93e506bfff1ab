// The options of ltiaasGrades(): their joi schema, defaults, and the resolved config the package runs on.
import Joi from 'joi';
import type { Request } from 'express';
import { timeoutMsSchema } from './client/callOptions';
import { LTIAAS_URL_MESSAGES, ltiaasUrlProblem } from './client/ltiaasUrl';
import { retryOptionsSchema, type ResolvedRetry, type RetryOptions } from './client/retrySchema';
import { OptionsError } from './errors';
import { resolveLogger, type Logger, type ResolvedLogger } from './logger';
import { missingOutboxMethods, OUTBOX_METHODS, type Outbox } from './outbox/outbox';
import { isServiceKeyStore, type ServiceKeyStore } from './serviceKeys/serviceKeyStore';
import { isCoordinationProvider, looksLikeRedisClient, type Coordination, type CoordinationProvider } from './state/coordination';

/** Where the middleware looks for the ltik. */
export type LtikSource = 'query' | 'body' | 'header';

export type { RetryOptions, ResolvedRetry } from './client/retrySchema';

/** Size and lifetime of one cache. */
export interface CacheOptions {
  /** Most entries kept (least recently used evicted first). Default `10000`. */
  max?: number;
  /** Lifetime of an entry in ms. Default 24 h (`86400000`); ID tokens at most 24 h, the life of an ltik. */
  ttlMs?: number;
}

/** What the OpenTelemetry spans may carry beyond the default (see the README's "Operating it"). */
export interface TelemetryOptions {
  /**
   * Put the LMS user id (`user.id`) and the column id (`ltiaas.line_item.id`) on spans, to find
   * one student's grade in your traces. Never on metrics. Default `false`: spans then carry
   * neither, only outcomes, codes, endpoint templates and statuses.
   */
  userIds?: boolean;
}

/** Options of {@link ltiaasGrades}. */
export interface LtiaasGradesOptions {
  /**
   * Base URL of your LTIAAS domain, any host and port, e.g. `https://your.ltiaas.com`. Required.
   * https, or http for an emulator on this machine (localhost, 127.0.0.0/8, ::1) or, with
   * `allowInsecureHttp`, elsewhere. No user name or password, query string or fragment.
   * An https LTIAAS is reached through the proxy of `HTTPS_PROXY` (unless `NO_PROXY` lists its
   * host) by a CONNECT tunnel, so the proxy never sees the API key; http never uses a proxy.
   */
  ltiaasUrl: string;
  /** Your LTIAAS API key (at least 16 characters). Required. Sent only to `ltiaasUrl`, never logged or exposed. */
  apiKey: string;
  /**
   * Allows an `http:` ltiaasUrl on a host other than this machine, e.g. an emulator on a test
   * network. Default `false`: the API key then only ever travels over https (or loopback).
   */
  allowInsecureHttp?: boolean;
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
  /**
   * For several tool instances that share no state (serverless, containers without Redis): after
   * creating a grade-book column, list the activity's columns again and use the first in the
   * LMS's order, deleting an own surplus column only when it holds no scores, so every instance
   * ends on one column. Costs one LTIAAS call per column created, none per grade. Not needed with
   * one instance, nor with Redis coordination. Default `false`.
   */
  convergeColumns?: boolean;
  /**
   * State shared by several instances of the tool: the launches' ID tokens, the grade-book
   * columns (found or created once across all instances) and the score clock (one student's
   * timestamps increase across all instances). While its store does not answer, each instance
   * goes on with its own in-process state and logs one warning. Default: none (state per process).
   * @example coordination: redisCoordination({ redis: new Redis(process.env.REDIS_URL) })  // from express-ltiaas-grades/redis
   */
  coordination?: Coordination;
  /** Where the package logs (console, pino, ...). Default: silent. */
  logger?: Logger;
  /**
   * Holds grades that cannot be delivered now (LTIAAS or the LMS unreachable, timing out,
   * 429/5xx after retries) and delivers them in the background, across restarts; `submitGrade`
   * then answers 202 `{ status: "queued", id }`. Default: none (those failures answer 5xx
   * `LTIAAS_UNAVAILABLE`, so the tool knows the grade did not land).
   * Any object with the {@link Outbox} methods is accepted (checked by shape, not by class).
   * @example outbox: fileOutbox({ dir: '/var/lib/my-tool/outbox' })
   */
  outbox?: Outbox;
  /**
   * Records the service key of every launch where grading is available (keyed by platform,
   * context and resource link, refreshed on each launch) for grading outside a launch. With a
   * store, the middleware reads each new launch's ID token in the background. Default: none.
   * @example serviceKeyStore: fileServiceKeyStore({ file: '/var/lib/my-tool/service-keys.json' })
   */
  serviceKeyStore?: ServiceKeyStore;
  /**
   * OpenTelemetry: with `@opentelemetry/api` installed and an SDK registered (before this factory
   * runs), every grade gets a span and every LTIAAS call a child span and a duration, and the
   * outbox reports gauges. Nothing is recorded otherwise, and nothing else changes. No secret is
   * ever an attribute. Default `{ userIds: false }`.
   * @example telemetry: { userIds: true }
   */
  telemetry?: TelemetryOptions;
}

/** Options of `ltiaasClient()`: those of `ltiaasGrades()` without the ones about requests. */
export type LtiaasClientOptions = Omit<LtiaasGradesOptions, 'ltikSources' | 'extractLtik'>;

/** The options after validation, with every default filled in. */
export interface ResolvedOptions {
  ltiaasUrl: string;
  apiKey: string;
  allowInsecureHttp: boolean;
  timeoutMs: number;
  retry: ResolvedRetry;
  ltikSources: LtikSource[];
  extractLtik?: (req: Request) => string | undefined | null;
  cache: { idTokens: Required<CacheOptions>; lineItems: Required<CacheOptions> };
  maxSockets: number;
  convergeColumns: boolean;
  coordination?: CoordinationProvider;
  logger: ResolvedLogger;
  outbox?: Outbox;
  serviceKeyStore?: ServiceKeyStore;
  telemetry: Required<TelemetryOptions>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

const cacheSchema = (max: number, ttlMs: number, maxTtlMs: number) =>
  Joi.object({
    max: Joi.number().integer().min(1).max(10_000_000).default(max),
    ttlMs: Joi.number().integer().min(1).max(maxTtlMs).default(ttlMs),
  }).default();

/** `a, b and c`, for messages. */
const listed = (names: readonly string[]) => (names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`);

const isLogger = (value: unknown) => {
  // A logger that throws when looked at is refused, without quoting what it threw.
  try {
    return typeof value === 'object' && value !== null && ['debug', 'info', 'warn', 'error'].some((level) => typeof (value as Record<string, unknown>)[level] === 'function');
  } catch {
    return false;
  }
};

/** The URL rules of ltiaasUrl.ts; trailing slashes are dropped so endpoint paths join cleanly. */
const ltiaasUrlSchema = (allowInsecureHttp: boolean) =>
  Joi.string()
    .trim()
    .uri({ scheme: ['http', 'https'] })
    .required()
    .custom((value: string, helpers) => {
      const problem = ltiaasUrlProblem(value, allowInsecureHttp);
      return problem ? helpers.error(`ltiaasUrl.${problem}`) : value.replace(/\/+$/, '');
    })
    .messages(LTIAAS_URL_MESSAGES);

/** LTIAAS API keys are long; a short one is a mistake, and short secrets cannot be redacted reliably. */
const MIN_API_KEY_LENGTH = 16;

/** One schema per option, keyed by the options interface so that neither can gain a key alone. */
const optionSchemas: Record<keyof LtiaasGradesOptions, Joi.Schema> = {
  ltiaasUrl: Joi.when('allowInsecureHttp', { is: true, then: ltiaasUrlSchema(true), otherwise: ltiaasUrlSchema(false) }),
  apiKey: Joi.string()
    .min(MIN_API_KEY_LENGTH)
    .pattern(/^[^\s:]+$/)
    .required()
    .messages({
      'string.min': `{{#label}} is too short to be an LTIAAS API key (they have at least ${MIN_API_KEY_LENGTH} characters)`,
      'string.pattern.base': '{{#label}} must be the bare key, without spaces, ":" or a "Bearer " prefix',
    }),
  allowInsecureHttp: Joi.boolean().default(false),
  timeoutMs: timeoutMsSchema.default(10_000),
  retry: retryOptionsSchema,
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
  convergeColumns: Joi.boolean().default(false),
  // Checked by shape, not cloned, as the outbox: the wiring needs the very object redisCoordination() made.
  coordination: Joi.any().custom((value, helpers) => {
    if (isCoordinationProvider(value)) return value;
    if (looksLikeRedisClient(value)) {
      return helpers.message({ custom: '{{#label}} must be what redisCoordination() returns, not the Redis client itself' });
    }
    return helpers.message({ custom: '{{#label}} must be what redisCoordination() from express-ltiaas-grades/redis returns (an object with sharedThrough and sharedState)' });
  }),
  logger: Joi.any().custom((value) => {
    if (!isLogger(value)) throw new Error('must have debug/info/warn/error methods (console or pino)');
    return value;
  }),
  // Instances are checked by shape, not cloned: joi must hand back the very object the app passed.
  outbox: Joi.any().custom((value, helpers) => {
    const missing = missingOutboxMethods(value);
    if (missing.length === 0) return value;
    return helpers.message({ custom: `{{#label}} must be an outbox, an object with the methods ${listed(OUTBOX_METHODS)}; it lacks ${listed(missing)}` });
  }),
  serviceKeyStore: Joi.any().custom((value) => {
    if (!isServiceKeyStore(value)) throw new Error('must have save, get and list methods');
    return value;
  }),
  telemetry: Joi.object({ userIds: Joi.boolean().default(false) }).default(),
};

const optionsSchema = Joi.object(optionSchemas);

/** The options of ltiaasGrades() that are about requests, so ltiaasClient() has no use for them. */
const REQUEST_OPTIONS = ['ltikSources', 'extractLtik'] as const satisfies readonly (keyof LtiaasGradesOptions)[];

const clientSchema = optionsSchema.fork([...REQUEST_OPTIONS], (schema) => schema.forbidden());

/** How to fix each option, appended to its complaint. Typed by the interface: a new option needs its fix. */
const FIXES: Record<keyof LtiaasGradesOptions, string> = {
  ltiaasUrl: 'pass your LTIAAS domain, e.g. ltiaasUrl: "https://your.ltiaas.com"',
  apiKey: 'pass your LTIAAS API key, e.g. apiKey: process.env.LTIAAS_API_KEY',
  allowInsecureHttp: 'pass true only for an emulator reached over plain http on a test network',
  timeoutMs: 'pass a whole number of milliseconds, e.g. timeoutMs: 10000',
  retry: 'pass { retries: 0..10, minDelayMs, maxDelayMs } in milliseconds',
  ltikSources: 'pass a list of "query", "body", "header"',
  extractLtik: 'pass a function (req) => ltik or undefined',
  cache: 'pass { idTokens: { max, ttlMs }, lineItems: { max, ttlMs } }',
  maxSockets: 'pass a whole number, e.g. maxSockets: 64',
  convergeColumns: 'pass true when several instances share no state, false (the default) otherwise',
  coordination: "pass redisCoordination({ redis: new Redis(process.env.REDIS_URL) }), imported from 'express-ltiaas-grades/redis'",
  logger: 'pass console or a pino logger',
  outbox: 'pass fileOutbox({ dir }), or an object of your own with those methods',
  serviceKeyStore: 'pass fileServiceKeyStore({ file }) or an object with save, get and list',
  telemetry: 'pass { userIds: true } to put user and column ids on spans, or leave it out',
};

type Factory = 'ltiaasGrades' | 'ltiaasClient';

const knownOptions = (factory: Factory): string[] =>
  Object.keys(FIXES).filter((key) => factory === 'ltiaasGrades' || !(REQUEST_OPTIONS as readonly string[]).includes(key));

/** Edit distance, for typos such as `ltiasUrl`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Names the closest known key, so `apikey`, `timeout` or `ltiasUrl` get a useful hint. */
function closestKey(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const byCase = known.find((key) => key.toLowerCase() === lower);
  if (byCase) return byCase;
  const byPrefix = known.find((key) => key.toLowerCase().startsWith(lower) || lower.startsWith(key.toLowerCase()));
  if (byPrefix || lower.length < 4) return byPrefix;
  return known.find((key) => editDistance(key.toLowerCase(), lower) <= 2);
}

/** The keys of the object at `path` in `schema` (for hints on nested keys such as `retry.delay`). */
function keysAt(schema: Joi.ObjectSchema, path: readonly (string | number)[], factory: Factory): string[] {
  if (path.length === 0) return knownOptions(factory);
  try {
    const keys = (schema.extract(path.map(String)).describe() as { keys?: Record<string, unknown> }).keys;
    return keys ? Object.keys(keys) : [];
  } catch {
    return [];
  }
}

/** One complaint: the option, what is wrong and the fix, never the value. */
function describeProblem(detail: Joi.ValidationErrorItem, schema: Joi.ObjectSchema, factory: Factory): string {
  const path = detail.path.join('.');
  if (detail.type === 'object.unknown') {
    const hint = closestKey(String(detail.path[detail.path.length - 1]), keysAt(schema, detail.path.slice(0, -1), factory));
    return `unknown option "${path}"${hint ? `: did you mean "${hint}"?` : ''}`;
  }
  if (detail.type === 'any.unknown' && factory === 'ltiaasClient') {
    return `option "${path}" is for ltiaasGrades() only: a client outside Express reads no requests`;
  }
  const fix = FIXES[String(detail.path[0]) as keyof LtiaasGradesOptions];
  return `option "${path}" is invalid: ${detail.message}${fix ? `; ${fix}` : ''}`;
}

/**
 * Every problem joi found, in one message. A required option that is missing because it was
 * misspelt (`apikey`) is reported once, as the misspelling with its "did you mean".
 */
function describe(error: Joi.ValidationError, schema: Joi.ObjectSchema, factory: Factory): string {
  const problems = error.details.map((detail) => ({ detail, text: describeProblem(detail, schema, factory) }));
  const hinted = new Set(problems.map(({ text }) => /did you mean "([^"]+)"\?$/.exec(text)?.[1]).filter(Boolean));
  const kept = problems.filter(({ detail }) => !(detail.type === 'any.required' && detail.path.length === 1 && hinted.has(String(detail.path[0]))));
  const unknown = kept.some(({ detail }) => detail.type === 'object.unknown' && detail.path.length === 1);
  const known = unknown ? ` Known options: ${knownOptions(factory).join(', ')}.` : '';
  if (kept.length === 1) return `${factory}(): ${kept[0]!.text}${kept[0]!.text.endsWith('?') ? '' : '.'}${known}`;
  return `${factory}(): ${kept.length} problems with the options:\n${kept.map(({ text }) => `- ${text}`).join('\n')}${known ? `\n${known.trim()}` : ''}`;
}

/** Validates the options once, at start-up; throws OptionsError naming the option and the fix. */
export function resolveOptions(input: unknown, factory: Factory = 'ltiaasGrades'): ResolvedOptions {
  if (input === undefined || input === null || typeof input !== 'object') {
    throw new OptionsError(`${factory}(options): options are required, e.g. ${factory}({ ltiaasUrl, apiKey }).`);
  }
  // Catches `app.use(ltiaasGrades)`: Express would call the factory with (req, res, next).
  if ('method' in input && 'headers' in input) {
    throw new OptionsError(`${factory}() is a factory: write app.use(ltiaasGrades(options).middleware()).`);
  }
  const schema = factory === 'ltiaasClient' ? clientSchema : optionsSchema;
  const { value, error } = schema.validate(input, { abortEarly: false, convert: true });
  if (error) throw new OptionsError(describe(error, schema, factory));
  return { ...value, logger: resolveLogger(value.logger) } as ResolvedOptions;
}
