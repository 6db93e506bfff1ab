// The retry policy: what is retried, the backoff window, and Retry-After parsing.
import { isRetryableFailure, MAX_TIMER_DELAY_MS, parseRetryAfter, retryDelayMs } from '../src/client/retryPolicy';

const policy = { retries: 3, minDelayMs: 100, maxDelayMs: 1000 };

describe('retry policy', () => {
  it.each([429, 502, 503, 504])('retries %i', (status) => {
    expect(isRetryableFailure({ kind: 'http', status }, 'POST', true)).toBe(true);
  });

  it.each([400, 401, 403, 404, 409, 422])('never retries %i', (status) => {
    expect(isRetryableFailure({ kind: 'http', status }, 'GET', true)).toBe(false);
    expect(isRetryableFailure({ kind: 'http', status }, 'POST', true)).toBe(false);
  });

  it('retries 500 only on a GET', () => {
    expect(isRetryableFailure({ kind: 'http', status: 500 }, 'GET', true)).toBe(true);
    expect(isRetryableFailure({ kind: 'http', status: 500 }, 'POST', true)).toBe(false);
  });

  it('retries network errors and timeouts of idempotent calls', () => {
    expect(isRetryableFailure({ kind: 'network' }, 'POST', true)).toBe(true);
    expect(isRetryableFailure({ kind: 'timeout' }, 'GET', true)).toBe(true);
  });

  it('retries a line item creation only when it cannot have been acted on', () => {
    expect(isRetryableFailure({ kind: 'network', notSent: true }, 'POST', false)).toBe(true);
    expect(isRetryableFailure({ kind: 'http', status: 429 }, 'POST', false)).toBe(true);
    expect(isRetryableFailure({ kind: 'network' }, 'POST', false)).toBe(false);
    expect(isRetryableFailure({ kind: 'timeout' }, 'POST', false)).toBe(false);
    expect(isRetryableFailure({ kind: 'http', status: 502 }, 'POST', false)).toBe(false);
  });

  it('waits between minDelayMs and the exponential ceiling, capped at maxDelayMs', () => {
    expect(retryDelayMs(0, policy, undefined, () => 0)).toBe(100);
    expect(retryDelayMs(0, policy, undefined, () => 1)).toBe(100);
    expect(retryDelayMs(2, policy, undefined, () => 1)).toBe(400);
    expect(retryDelayMs(2, policy, undefined, () => 0)).toBe(100);
    expect(retryDelayMs(9, policy, undefined, () => 1)).toBe(1000);
    for (let attempt = 0; attempt < 8; attempt++) {
      const delay = retryDelayMs(attempt, policy);
      expect(delay).toBeGreaterThanOrEqual(100);
      expect(delay).toBeLessThanOrEqual(1000);
    }
  });

  it('never waits less than Retry-After', () => {
    expect(retryDelayMs(0, policy, 800, () => 0)).toBe(800);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('1')).toBe(1000);
    expect(parseRetryAfter(' 30 ')).toBe(30_000);
    const now = Date.parse('2026-11-27T12:00:00Z');
    expect(parseRetryAfter('Fri, 27 Nov 2026 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Fri, 27 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
  it('never waits longer than maxDelayMs, whatever Retry-After asks', () => {
    expect(retryDelayMs(0, policy, 99_999_999_000, () => 0)).toBe(1000);
    expect(retryDelayMs(0, policy, Infinity, () => 0)).toBe(1000);
    expect(retryDelayMs(0, policy, Number.NaN, () => 0)).toBe(100);
  });

  it('never returns more than a timer can hold, even for a maxDelayMs above it', () => {
    const generous = { retries: 0, minDelayMs: 1000, maxDelayMs: 10 * MAX_TIMER_DELAY_MS };
    expect(retryDelayMs(40, generous, undefined, () => 1)).toBe(MAX_TIMER_DELAY_MS);
    expect(MAX_TIMER_DELAY_MS).toBe(2 ** 31 - 1);
  });

  it('keeps the wait a finite number after thousands of failed rounds, with minDelayMs 0', () => {
    const delay = retryDelayMs(5000, { retries: 0, minDelayMs: 0, maxDelayMs: 1000 }, undefined, () => 1);
    expect(Number.isFinite(delay)).toBe(true);
    expect(delay).toBeLessThanOrEqual(1000);
  });

  it('bounds a Retry-After of years (seconds or a date in 9999) to what a timer can hold', () => {
    const now = Date.parse('2026-11-27T12:00:00Z');
    expect(parseRetryAfter('99999999', now)).toBe(MAX_TIMER_DELAY_MS);
    expect(parseRetryAfter('9'.repeat(400), now)).toBe(MAX_TIMER_DELAY_MS);
    expect(parseRetryAfter('Fri, 31 Dec 9999 23:59:59 GMT', now)).toBe(MAX_TIMER_DELAY_MS);
    expect(parseRetryAfter('120', now)).toBe(120_000);
  });
});
