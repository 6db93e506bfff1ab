// Reads a launch's ID token once per ltik (cached, concurrent readers sharing one request) and records its service key.
import type { LtiaasApi } from '../client/ltiaasApi';
import type { CallOptions } from '../client/transport';
import { digest } from '../secretDigest';
import type { GuardedServiceKeyStore } from '../serviceKeys/guardedServiceKeyStore';
import type { IdTokenCache } from '../state/idTokenCache';
import type { IdToken } from '../types';

export class IdTokenReader {
  /** Reads under way in this process, by ltik digest: a second reader waits on the first. */
  private readonly reading = new Map<string, Promise<IdToken>>();

  constructor(
    private readonly api: LtiaasApi,
    private readonly cache: IdTokenCache,
    /** The app's service key store, when it has one (called so that a careless store cannot crash the tool). */
    private readonly serviceKeys?: GuardedServiceKeyStore,
  ) {}

  /** The launch's ID token, fetched once per ltik: concurrent callers share one request. */
  read(ltik: string, options?: CallOptions): Promise<IdToken> {
    const key = digest(ltik);
    const shared = this.reading.get(key);
    if (shared) return shared;
    const reading = this.cachedOrFetched(key, ltik, options);
    this.reading.set(key, reading);
    const done = () => {
      if (this.reading.get(key) === reading) this.reading.delete(key);
    };
    reading.then(done, done);
    return reading;
  }

  private async cachedOrFetched(key: string, ltik: string, options?: CallOptions): Promise<IdToken> {
    const cached = await this.cache.get(key, ltik);
    if (cached) return cached;
    const token = await this.api.idToken(ltik, options);
    await this.cache.set(key, token, ltik);
    this.recordServiceKey(token);
    return token;
  }

  /** Keeps the launch's service key in the store, as LTIAAS advises, on each launch with grades. */
  private recordServiceKey(token: IdToken): void {
    const store = this.serviceKeys;
    const serviceKey = token.services.serviceKey;
    const contextId = token.launch.context?.id;
    const resourceLinkId = token.launch.resourceLink?.id;
    if (!store || !serviceKey || !token.services.assignmentAndGrades.available || !contextId || !resourceLinkId) return;
    // Never rejects (see GuardedServiceKeyStore): a failing store is logged, the page goes on.
    void store.save({
      platformId: token.platform.id,
      contextId,
      resourceLinkId,
      serviceKey,
      ...(token.services.assignmentAndGrades.lineItemId ? { lineItemId: token.services.assignmentAndGrades.lineItemId } : {}),
      ...(token.launch.context?.title ? { contextTitle: token.launch.context.title } : {}),
      ...(token.launch.resourceLink?.title ? { resourceLinkTitle: token.launch.resourceLink.title } : {}),
      updatedAt: new Date().toISOString(),
    });
  }
}
