// The emulator's options, their defaults, and the checks that catch a mistyped option at start-up.
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

export function resolveEmulatorOptions(options: EmulatorOptions = {}): ResolvedEmulatorOptions {
  const resolved: ResolvedEmulatorOptions = {
    apiKey: options.apiKey ?? 'emulator-api-key',
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    pageSize: options.pageSize ?? 10,
    latencyMs: options.latencyMs ?? 0,
    platformUrl: normalizePlatformUrl(options.platformUrl ?? 'https://lms.example.edu'),
    ltikTtlMs: options.ltikTtlMs ?? DAY_MS,
    now: options.now ?? Date.now,
    logLimit: options.logLimit ?? 1000,
  };
  const problems: string[] = [];
  // The credential is "<API_KEY>:<TOKEN>", split at the first ':'.
  if (typeof resolved.apiKey !== 'string' || !/^[^\s:]+$/.test(resolved.apiKey)) {
    problems.push('apiKey must be a non-empty string without ":" or whitespace');
  }
  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65535) problems.push('port must be an integer from 0 to 65535');
  if (!Number.isInteger(resolved.pageSize) || resolved.pageSize < 1) problems.push('pageSize must be an integer >= 1');
  if (!isDelay(resolved.latencyMs)) problems.push('latencyMs must be a finite number >= 0');
  if (!(typeof resolved.ltikTtlMs === 'number' && resolved.ltikTtlMs > 0)) problems.push('ltikTtlMs must be a number > 0');
  if (typeof resolved.now !== 'function') problems.push('now must be a function returning ms');
  if (!Number.isInteger(resolved.logLimit) || resolved.logLimit < 1) problems.push('logLimit must be an integer >= 1');
  const unknown = Object.keys(options).filter((key) => !(key in resolved));
  if (unknown.length > 0) problems.push(`unknown option(s): ${unknown.join(', ')}`);
  if (problems.length > 0) throw new TypeError(`startEmulator: ${problems.join('; ')}`);
  return resolved;
}

export function isDelay(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0;
}
