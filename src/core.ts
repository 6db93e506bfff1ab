// The state one ltiaasGrades() instance shares across requests: client, caches, clock, events.
import { createHash } from 'node:crypto';
import { LruCache } from './cache/lruCache';
import { LtiaasApi } from './client/ltiaasApi';
import { LtiaasTransport, type CallOptions } from './client/transport';
import { GradeEvents } from './events';
import { LineItemResolver } from './grades/lineItemResolver';
import { ScoreClock } from './grades/scoreClock';
import type { ResolvedOptions } from './options';
import type { IdToken } from './types';

/** A short digest of an ltik: cache keys stay small and the heap holds no usable ltik. */
const digest = (secret: string) => createHash('sha256').update(secret).digest('base64url');

export class GradesCore {
  readonly transport: LtiaasTransport;
  readonly api: LtiaasApi;
  readonly resolver: LineItemResolver;
  readonly clock = new ScoreClock();
  readonly events: GradeEvents;
  private readonly idTokens: LruCache<string, Promise<IdToken>>;

  constructor(readonly options: ResolvedOptions) {
    this.events = new GradeEvents((error, event) =>
      options.logger.error({ event, error: error instanceof Error ? error.message : String(error) }, 'grade event listener threw'),
    );
    this.transport = new LtiaasTransport({
      ltiaasUrl: options.ltiaasUrl,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs,
      retry: options.retry,
      maxSockets: options.maxSockets,
      logger: options.logger,
      onRetry: (notice) => this.events.emit('retry', notice),
    });
    this.api = new LtiaasApi(this.transport);
    this.resolver = new LineItemResolver(options.cache.lineItems);
    this.idTokens = new LruCache(options.cache.idTokens);
  }

  /** The launch's ID token, fetched once per ltik: concurrent callers share one request. */
  idToken(ltik: string, options?: CallOptions): Promise<IdToken> {
    const key = digest(ltik);
    const cached = this.idTokens.get(key);
    if (cached) return cached;
    const fetching = this.api.idToken(ltik, options);
    this.idTokens.set(key, fetching);
    fetching.catch(() => this.idTokens.deleteIf(key, fetching));
    return fetching;
  }

  /** Names the grade book a launch writes to, so launches in one context share resolved columns. */
  static scopeOf(token: IdToken): string {
    const context = token.launch.context?.id;
    const where = context ? `context:${context}` : `link:${token.launch.resourceLink?.id ?? ''}`;
    return `${token.platform.id}\u0000${where}`;
  }

  close(): void {
    this.transport.close();
  }
}
