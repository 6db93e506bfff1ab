// The ID-token cache of one instance over Redis: this process's cache first, then Redis (encrypted under the ltik), and this process's alone while Redis does not answer.
import type { IdTokenCache } from '../state/idTokenCache';
import type { IdToken } from '../types';
import type { RedisIdTokenCache } from './idTokenCache';
import type { RedisReachability } from './reachability';

/**
 * A launch's requests may reach any instance (no sticky sessions): the token one instance read
 * is in Redis for the others. An ID token never changes for its ltik, so the in-process cache
 * in front is never stale and saves a Redis round trip on each later request here.
 */
export class SharedIdTokenCache implements IdTokenCache {
  constructor(
    private readonly local: IdTokenCache,
    private readonly shared: RedisIdTokenCache,
    private readonly reachability: RedisReachability,
    private readonly ttlMs: number,
  ) {}

  async get(ltikDigest: string, ltik: string): Promise<IdToken | undefined> {
    const here = await this.local.get(ltikDigest, ltik);
    if (here) return here;
    return this.reachability.orLocal(
      async () => {
        const token = await this.shared.get(ltik);
        if (token) await this.local.set(ltikDigest, token, ltik);
        return token;
      },
      () => undefined,
    );
  }

  async set(ltikDigest: string, token: IdToken, ltik: string): Promise<void> {
    await this.local.set(ltikDigest, token, ltik);
    await this.reachability.orLocal(
      () => this.shared.set(ltik, token, this.ttlMs),
      () => undefined,
    );
  }
}
