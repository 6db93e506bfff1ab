// The ID tokens of launches, kept by the digest of their ltik: the interface and its in-process default.
import { LruCache } from '../cache/lruCache';
import type { IdToken } from '../types';

/**
 * Where the ID token of each launch is kept once read, so it is fetched once per ltik. Keys are
 * digests of ltiks, never ltiks. An entry lives at most the cache's time to live (24 h at most,
 * the life of an ltik). A cache shared by several tool instances answers asynchronously, and is
 * also handed the ltik itself: only to derive the key that encrypts what it stores (so that its
 * store holds nothing usable without the ltik), never to store or log it.
 */
export interface IdTokenCache {
  /** The token kept for this ltik digest, or undefined when there is none or it expired. */
  get(ltikDigest: string, ltik: string): IdToken | undefined | Promise<IdToken | undefined>;
  /** Keeps the token for this ltik digest for the cache's time to live. */
  set(ltikDigest: string, token: IdToken, ltik: string): void | Promise<void>;
}

/** The ID tokens in this process's memory: least recently used evicted first, each expiring after `ttlMs`. */
export class InProcessIdTokenCache implements IdTokenCache {
  private readonly tokens: LruCache<string, IdToken>;

  constructor(options: { max: number; ttlMs: number }) {
    this.tokens = new LruCache({ max: options.max, ttlMs: options.ttlMs });
  }

  get(ltikDigest: string): IdToken | undefined {
    return this.tokens.get(ltikDigest);
  }

  set(ltikDigest: string, token: IdToken): void {
    this.tokens.set(ltikDigest, token);
  }
}
