// When an LTIAAS call is tried again, and how long to wait first (exponential backoff, full jitter).
import type { ResolvedRetry } from './retrySchema';

/** How one attempt failed, as far as the retry decision needs to know. */
export interface AttemptFailure {
  kind: 'network' | 'timeout' | 'http';
  status?: number;
  /** True when the request cannot have reached LTIAAS (connection refused, DNS failure). */
  notSent?: boolean;
  retryAfterMs?: number;
}

/**
 * The policy, in one place:
 * - retried: network errors, timeouts, 429, 502, 503, 504, and 500 on a GET;
 * - never retried: any other status, in particular 400, 401, 403, 404, 422, which will not pass;
 * - a request that is not idempotent (creating a line item) is retried only when it cannot
 *   have been acted on: connection refused or 429. Scores are idempotent because a retried
 *   score carries its original timestamp, which the LMS treats as the same score.
 */
export function isRetryableFailure(failure: AttemptFailure, method: string, idempotent: boolean): boolean {
  if (failure.kind === 'network') return idempotent || failure.notSent === true;
  if (failure.kind === 'timeout') return idempotent;
  const status = failure.status ?? 0;
  if (status === 429) return true;
  if (!idempotent) return false;
  if (status === 502 || status === 503 || status === 504) return true;
  return status === 500 && method === 'GET';
}

/** Failures that may pass later even if not now (an outbox keeps the grade for these). */
export function isTransientFailure(failure: AttemptFailure): boolean {
  if (failure.kind !== 'http') return true;
  const status = failure.status ?? 0;
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The longest delay `setTimeout` takes: above it Node fires after 1 ms instead, which would turn
 * a long wait into a busy loop.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * Full jitter: a random wait between `minDelayMs` and the exponential ceiling
 * `minDelayMs * 2^attempt` (capped at `maxDelayMs`), so that many clients retrying after one
 * outage spread out instead of arriving together. A `Retry-After` is a floor, but no wait is
 * ever longer than `maxDelayMs` (nor than a timer can hold): a server asking for days or for
 * year 9999 must not stop the outbox. (A live request does not wait at all for a Retry-After
 * above `maxDelayMs`: the transport fails it at once instead.) `attempt` counts retries from 0.
 */
export function retryDelayMs(attempt: number, policy: ResolvedRetry, retryAfterMs?: number, random = Math.random): number {
  // 2^31 times any minDelayMs >= 1 is past every cap; a larger exponent only risks Infinity * 0.
  const exponent = Math.min(Math.max(0, attempt), 31);
  const ceiling = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** exponent);
  const jittered = policy.minDelayMs + random() * Math.max(0, ceiling - policy.minDelayMs);
  const floor = retryAfterMs !== undefined && !Number.isNaN(retryAfterMs) ? retryAfterMs : 0;
  return Math.round(Math.min(Math.max(jittered, floor), policy.maxDelayMs, MAX_TIMER_DELAY_MS));
}

/**
 * `Retry-After` as seconds or an HTTP date, in ms from now; undefined when absent or unreadable.
 * Bounded to [0, MAX_TIMER_DELAY_MS], so that a huge value stays a finite number a timer can hold.
 */
export function parseRetryAfter(header: unknown, now = Date.now()): number | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Math.min(Number(value) * 1000, MAX_TIMER_DELAY_MS);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, date - now), MAX_TIMER_DELAY_MS);
}
