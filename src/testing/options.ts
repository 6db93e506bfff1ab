// The emulator's options, their defaults, and the checks that catch a mistyped option at start-up.
import Joi from 'joi';
import { normalizePlatformUrl } from './platforms';

export interface EmulatorOptions {
  /** The API key clients must send; default 'emulator-api-key'. Must not contain ':' or whitespace. */
  apiKey?: string;
  /** Interface to listen on; default '127.0.0.1'. */
  host?: string;
  /** Port to listen on; default 0 (a random free port). */
  port?: number;
  /** LMS page size for list endpoints; default 10 (small, so that paging gets exercised). */
  pageSize?: number;
  /** Delay added before answering every /api/* request; default 0. */
  latencyMs?: number;
  /** The default platform's issuer URL; default 'https://lms.example.edu'. */
  platformUrl?: string;
  /** How long an ltik stays valid; default 24 h. */
  ltikTtlMs?: number;
  /** Clock in ms used for ltik expiry; default Date.now. */
  now?: () => number;
  /** How many requests the log keeps (oldest dropped first); default 1000. */
  logLimit?: number;
}

export type ResolvedEmulatorOptions = Required<EmulatorOptions>;

const DAY_MS = 24 * 60 * 60 * 1000;

const emulatorOptionsSchema = Joi.object({
  // The credential is "<API_KEY>:<TOKEN>", split at the first ':'.
  apiKey: Joi.string()
    .pattern(/^[^\s:]+$/)
    .default('emulator-api-key')
    .messages({ 'string.pattern.base': '{{#label}} must not contain ":" or whitespace' }),
  host: Joi.string().min(1).default('127.0.0.1'),
  port: Joi.number().integer().min(0).max(65535).default(0),
  pageSize: Joi.number().integer().min(1).default(10),
  latencyMs: Joi.number().min(0).max(600_000).default(0),
  platformUrl: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .default('https://lms.example.edu')
    .custom((url: string) => normalizePlatformUrl(url)),
  ltikTtlMs: Joi.number().greater(0).default(DAY_MS),
  now: Joi.function().default(() => Date.now),
  logLimit: Joi.number().integer().min(1).default(1000),
}).messages({ 'object.unknown': 'unknown option {{#label}}' });

/** Validates the options once, at start-up, and fills the defaults; throws a TypeError naming the option. */
export function resolveEmulatorOptions(options: EmulatorOptions = {}): ResolvedEmulatorOptions {
  const { value, error } = emulatorOptionsSchema.validate(options, { abortEarly: false });
  if (error) throw new TypeError(`startEmulator: ${error.details.map((detail) => detail.message).join('; ')}`);
  return value as ResolvedEmulatorOptions;
}

export function isDelay(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0;
}
