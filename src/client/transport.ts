// Sends one LTIAAS call over kept-alive connections, with a deadline, retries and classified errors.
import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import type { LtiaasGradesError } from '../errors';
import type { ResolvedLogger } from '../logger';
import { resolveCallOptions, type CallOptions } from './callOptions';
import { authorizationHeader, secretOf, type Credential } from './credentials';
import { proxyFromEnv } from './envProxy';
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

/** An answer's body as JSON when it parses, or the text itself (an LTIAAS error page, a proxy's HTML). */
function parseJsonOrText(data: unknown): unknown {
  if (typeof data !== 'string' || data === '') return data;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

/** The code of an answer longer than `maxContentLength` (axios reports it as a vague ERR_BAD_RESPONSE). */
const ANSWER_TOO_LARGE = 'ERR_RESPONSE_TOO_LARGE';

/** axios's own words for an answer cut off at `maxContentLength`; only its fixed message is read, never the request it holds. */
function isTooLarge(thrown: unknown): boolean {
  const { code, message } = thrown as { code?: unknown; message?: unknown };
  return code === 'ERR_BAD_RESPONSE' && typeof message === 'string' && message.startsWith('maxContentLength size of');
}

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
  private readonly http: AxiosInstance;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(private readonly config: TransportConfig) {
    const pool = { keepAlive: true, maxSockets: config.maxSockets };
    // Read once: the proxy for an https LTIAAS, through a CONNECT tunnel; plain http never takes one.
    const proxy = proxyFromEnv(new URL(config.ltiaasUrl));
    this.httpAgent = new http.Agent(pool);
    this.httpsAgent = proxy ? new TunnelAgent(proxy, pool) : new https.Agent(pool);
    this.http = axios.create({
      baseURL: config.ltiaasUrl,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      // axios's own proxying would hand an http request, Authorization header included, to the
      // proxy, and for https it builds a tunnel agent of its own outside our pool and maxSockets.
      proxy: false,
      // A redirect would carry the API key elsewhere; LTIAAS's API does not redirect.
      maxRedirects: 0,
      // Every status is classified here, so axios never builds an error holding our headers.
      validateStatus: () => true,
      maxContentLength: 20 * 1024 * 1024,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: true },
      // Node's http adapter, named once: axios otherwise picks its adapter again on every request.
      adapter: 'http',
      // Bodies are plain JSON both ways: stringified here, and parsed when they parse (a proxy's
      // or the LMS's page stays the text it is), without axios's general-purpose transforms.
      transformRequest: [(data: unknown) => (data === undefined ? undefined : JSON.stringify(data))],
      transformResponse: [parseJsonOrText],
    });
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
    // axios's own timeout only notices an idle socket; the abort makes it a deadline for the whole call.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      const response = await this.http.request({
        method: request.method,
        url: request.path + encodeQuery(request.query),
        data: request.body,
        timeout: timeoutMs,
        signal: controller.signal,
        headers: {
          Authorization: authorizationHeader(this.config.apiKey, request.credential),
          Accept: 'application/json',
          ...(request.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
      });
      if (response.status >= 200 && response.status < 300) {
        return { response: { status: response.status, data: response.data as T } };
      }
      const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
      const secrets = [this.config.apiKey, secretOf(request.credential)];
      return { error: errorFromResponse(call, response.status, response.data, retryAfterMs, secrets), notSent: false, errorType: String(response.status) };
    } catch (thrown) {
      // Only the error's code is read: the axios error holds our Authorization header and is dropped here.
      const code = (thrown as { code?: unknown }).code;
      const systemCode = typeof code === 'string' ? (isTooLarge(thrown) ? ANSWER_TOO_LARGE : code) : undefined;
      const isTimeout = timedOut || systemCode === 'ETIMEDOUT' || systemCode === 'ECONNABORTED';
      const error = errorFromTransport(call, isTimeout ? 'timeout' : 'network', timeoutMs, systemCode);
      return { error, notSent: !isTimeout && NOT_SENT_CODES.has(systemCode ?? ''), errorType: isTimeout ? 'timeout' : safeCode(systemCode) };
    } finally {
      clearTimeout(timer);
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
