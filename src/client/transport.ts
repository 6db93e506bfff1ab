// Sends one LTIAAS call over kept-alive connections, with a deadline, retries and classified errors.
import http from 'node:http';
import https from 'node:https';
import type { LtiaasGradesError } from '../errors';
import type { ResolvedLogger } from '../logger';
import { resolveCallOptions, type CallOptions } from './callOptions';
import { authorizationHeader, secretOf, type Credential } from './credentials';
import { proxyFromEnv } from './envProxy';
import { exchange, httpTarget, type HttpTarget } from './httpExchange';
import { TUNNEL_REFUSED } from './proxyTunnel';
import type { ResolvedRetry } from './retrySchema';
import { isRetryableFailure, parseRetryAfter, retryDelayMs, type AttemptFailure } from './retryPolicy';
import { TunnelAgent } from './tunnelAgent';
import { errorFromResponse, errorFromTransport, type CallDescription } from './upstreamErrors';

export type { CallOptions } from './callOptions';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One LTIAAS call. `path` is already encoded; `endpoint` is its template for messages and logs. */
export interface LtiaasRequest {
  method: HttpMethod;
  path: string;
  endpoint: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  credential: Credential;
  /** Safe to repeat: GET, PUT, DELETE, and score POSTs (which carry a fixed timestamp). */
  idempotent: boolean;
  /** Non-secret facts for logs and events. */
  meta?: { lineItemId?: string; userId?: string };
}

export interface LtiaasResponse<T> {
  status: number;
  data: T;
}

/** Facts about a retry, for the `retry` event and the log. */
export interface RetryNotice {
  method: HttpMethod;
  endpoint: string;
  attempt: number;
  delayMs: number;
  status?: number;
  kind: AttemptFailure['kind'];
  lineItemId?: string;
  userId?: string;
}

/** One attempt of an LTIAAS call as an observer sees it: what was sent, never how (no URL, header or body). */
export interface ObservedAttempt {
  method: HttpMethod;
  /** The endpoint's template, e.g. `/api/lineitems/:lineItemId/scores`. */
  endpoint: string;
  /** 0 for the first send, 1 for the first resend, ... */
  attempt: number;
  meta?: LtiaasRequest['meta'];
}

/** How one attempt ended. */
export interface AttemptReport {
  /** The status LTIAAS answered with; absent when no answer came. */
  status?: number;
  /**
   * Why the attempt failed, a short stable word: the status for an HTTP error (`"503"`),
   * `timeout`, or the connection's system code (`ECONNREFUSED`). Absent on a 2xx.
   */
  errorType?: string;
}

/**
 * Told of every attempt of every call (telemetry and the status report listen here, so the
 * client knows neither): called as the attempt starts, and the function it returns as it ends.
 * Must not throw.
 */
export type CallObserver = (attempt: ObservedAttempt) => ((report: AttemptReport) => void) | undefined;

export interface TransportConfig {
  ltiaasUrl: string;
  apiKey: string;
  timeoutMs: number;
  retry: ResolvedRetry;
  maxSockets: number;
  logger: ResolvedLogger;
  onRetry?: (notice: RetryNotice) => void;
  observe?: CallObserver;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.());

/** An answer longer than this is refused: no LTIAAS answer comes near it. */
const MAX_ANSWER_BYTES = 20 * 1024 * 1024;

/** Codes meaning the connection was never made (or the proxy refused the tunnel), so nothing reached LTIAAS. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', TUNNEL_REFUSED]);

/** `encodeURIComponent` on every key and value, as ltiaas-api.md asks for `?url=`. */
export function encodeQuery(query: LtiaasRequest['query']): string {
  if (!query) return '';
  const pairs = Object.entries(query)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  return pairs.length > 0 ? `?${pairs.join('&')}` : '';
}

export class LtiaasTransport {
  private readonly target: HttpTarget;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(private readonly config: TransportConfig) {
    const pool = { keepAlive: true, maxSockets: config.maxSockets };
    // Read once: the proxy for an https LTIAAS, through a CONNECT tunnel; plain http never takes one.
    const proxy = proxyFromEnv(new URL(config.ltiaasUrl));
    this.httpAgent = new http.Agent(pool);
    this.httpsAgent = proxy ? new TunnelAgent(proxy, pool) : new https.Agent(pool);
    // Plain node:http over these agents: every status comes back to be classified here, a redirect
    // is never followed (it would carry the API key elsewhere; LTIAAS's API does not redirect),
    // and no proxy but the tunnel agent's is ever used.
    this.target = httpTarget(config.ltiaasUrl);
  }

  /** Sends the call, retrying per the policy; resolves with a 2xx answer or throws LtiaasGradesError. */
  async send<T>(request: LtiaasRequest, options: CallOptions = {}): Promise<LtiaasResponse<T>> {
    const { retry, timeoutMs } = options.retry === undefined && options.timeoutMs === undefined
      ? this.config
      : resolveCallOptions(options, this.config);
    const call: CallDescription = { method: request.method, endpoint: request.endpoint, credential: request.credential };
    for (let attempt = 0; ; attempt++) {
      const started = Date.now();
      const ended = this.config.observe?.({ method: request.method, endpoint: request.endpoint, attempt, ...(request.meta ? { meta: request.meta } : {}) });
      const outcome = await this.attempt<T>(request, call, timeoutMs);
      const durationMs = Date.now() - started;
      ended?.('response' in outcome ? { status: outcome.response.status } : { ...(outcome.error.upstream?.status !== undefined ? { status: outcome.error.upstream.status } : {}), errorType: outcome.errorType });
      if ('response' in outcome) {
        this.config.logger.debug(
          { method: request.method, endpoint: request.endpoint, status: outcome.response.status, durationMs, attempt },
          'ltiaas call succeeded',
        );
        return outcome.response;
      }
      const { error } = outcome;
      const failure: AttemptFailure = {
        kind: error.upstream?.kind ?? 'network',
        status: error.upstream?.status,
        notSent: outcome.notSent,
        retryAfterMs: error.upstream?.retryAfterMs,
      };
      const retryable = isRetryableFailure(failure, request.method, request.idempotent);
      const waitsTooLong = failure.retryAfterMs !== undefined && failure.retryAfterMs > retry.maxDelayMs;
      if (!retryable || attempt >= retry.retries || waitsTooLong) {
        this.config.logger.debug(
          { method: request.method, endpoint: request.endpoint, status: failure.status, kind: failure.kind, code: error.code, durationMs, attempt },
          'ltiaas call failed',
        );
        throw error;
      }
      const delayMs = retryDelayMs(attempt, retry, failure.retryAfterMs);
      const notice: RetryNotice = {
        method: request.method,
        endpoint: request.endpoint,
        attempt: attempt + 1,
        delayMs,
        kind: failure.kind,
        ...(failure.status !== undefined ? { status: failure.status } : {}),
        ...request.meta,
      };
      this.config.logger.warn({ ...notice }, 'ltiaas call failed, retrying');
      this.config.onRetry?.(notice);
      await sleep(delayMs);
    }
  }

  /** One attempt: a response, or the classified error (returned, not thrown, for the retry loop). */
  private async attempt<T>(request: LtiaasRequest, call: CallDescription, timeoutMs: number): Promise<AttemptOutcome<T>> {
    try {
      const body = request.body === undefined ? undefined : JSON.stringify(request.body);
      const headers: Record<string, string | number> = {
        Authorization: authorizationHeader(this.config.apiKey, request.credential),
        Accept: 'application/json',
      };
      if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = Buffer.byteLength(body);
      }
      // The deadline covers the whole call (connecting, sending, reading), not only an idle socket.
      const response = await exchange(this.target, {
        method: request.method,
        path: request.path + encodeQuery(request.query),
        headers,
        ...(body !== undefined ? { body } : {}),
        agent: this.target.secure ? this.httpsAgent : this.httpAgent,
        timeoutMs,
        maxBodyBytes: MAX_ANSWER_BYTES,
      });
      if (response.status >= 200 && response.status < 300) {
        return { response: { status: response.status, data: response.data as T } };
      }
      const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
      const secrets = [this.config.apiKey, secretOf(request.credential)];
      return { error: errorFromResponse(call, response.status, response.data, retryAfterMs, secrets), notSent: false, errorType: String(response.status) };
    } catch (thrown) {
      // Only the error's code is read, whatever else a failure might carry.
      const code = (thrown as { code?: unknown }).code;
      const systemCode = typeof code === 'string' ? code : undefined;
      const isTimeout = systemCode === 'ETIMEDOUT' || systemCode === 'ECONNABORTED';
      const error = errorFromTransport(call, isTimeout ? 'timeout' : 'network', timeoutMs, systemCode);
      return { error, notSent: !isTimeout && NOT_SENT_CODES.has(systemCode ?? ''), errorType: isTimeout ? 'timeout' : safeCode(systemCode) };
    }
  }

  /** Closes kept-alive connections (tests, graceful shutdown). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** An attempt's answer, or its error, whether the request can have reached LTIAAS at all, and the failure's short name. */
type AttemptOutcome<T> = { response: LtiaasResponse<T> } | { error: LtiaasGradesError; notSent: boolean; errorType: string };

/** A system code as a short name for reports (`ECONNRESET`), or `network` for anything that does not look like one. */
function safeCode(code: string | undefined): string {
  return code !== undefined && /^[A-Z][A-Z0-9_]{1,40}$/.test(code) ? code : 'network';
}
