// ID tokens shared by every instance through Redis, readable only by a holder of the ltik they belong to.
//
// Interface (what the wiring adapts to):
//   new RedisIdTokenCache<T = IdToken>(redis: RedisClientLike, options?: { prefix?: string })
//   idTokens.get(ltik): Promise<T | undefined>          undefined when absent, expired, or unreadable (then the entry is deleted)
//   idTokens.set(ltik, token: T, ttlMs): Promise<void>  ttlMs is capped at 24 h (an ltik's life); ttlMs < 1 stores nothing
//   idTokens.delete(ltik): Promise<void>
//   idTokens.keyOf(ltik): string                         the Redis key: prefix + 'id-token:' + base64url(sha256(ltik))
//
// An ID token carries the student's identity and the service key, so Redis must hold nothing
// usable without the ltik: the key is a digest of the ltik, and the value is AES-256-GCM under a
// key derived from the ltik itself (HKDF-SHA256, fixed salt and info naming this purpose). An
// ltik is a long random bearer token, so the digest cannot be turned back into it, and whoever
// reads Redis (a backup, a shared instance, a MONITOR) learns neither the ltik nor the token.
// The digest is the AAD: an entry copied under another ltik's key fails authentication.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { IdToken } from '../types';
import { deleteIfEqual, LuaScript, type RedisClientLike } from './redisClient';

export interface RedisIdTokenCacheOptions {
  /** Prepended to every key; default `ltiaas-grades:`. */
  prefix?: string;
}

/** An ltik lives 24 h at LTIAAS, so a token is never worth keeping longer. */
export const MAX_ID_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

const HKDF_SALT = Buffer.from('express-ltiaas-grades/redis id-token cache', 'utf8');
const HKDF_INFO = Buffer.from('AES-256-GCM key for one ID token, v1', 'utf8');
/** Format tag of a stored entry, so a later format can be told apart (and refused) safely. */
const VERSION = 'v1';

const storeWithExpiry = new LuaScript(`
return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
`);

export class RedisIdTokenCache<T = IdToken> {
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisClientLike,
    options: RedisIdTokenCacheOptions = {},
  ) {
    this.prefix = options.prefix ?? 'ltiaas-grades:';
  }

  keyOf(ltik: string): string {
    return `${this.prefix}id-token:${digestOf(ltik)}`;
  }

  async get(ltik: string): Promise<T | undefined> {
    const key = this.keyOf(ltik);
    const stored = await this.redis.get(key);
    if (stored === null) return undefined;
    const token = open<T>(stored, ltik, digestOf(ltik));
    // Tampered, from another ltik, or of an unknown format: useless to everyone, so gone.
    if (token === undefined) await deleteIfEqual.run(this.redis, [key], [stored]);
    return token;
  }

  async set(ltik: string, token: T, ttlMs: number): Promise<void> {
    const ttl = Math.min(Math.floor(ttlMs), MAX_ID_TOKEN_TTL_MS);
    if (!(ttl >= 1)) return;
    await storeWithExpiry.run(this.redis, [this.keyOf(ltik)], [seal(token, ltik, digestOf(ltik)), ttl]);
  }

  async delete(ltik: string): Promise<void> {
    const key = this.keyOf(ltik);
    const stored = await this.redis.get(key);
    if (stored !== null) await deleteIfEqual.run(this.redis, [key], [stored]);
  }
}

const digestOf = (ltik: string): string => createHash('sha256').update(ltik, 'utf8').digest('base64url');

function keyFor(ltik: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(ltik, 'utf8'), HKDF_SALT, HKDF_INFO, 32));
}

/** `v1.<iv>.<tag>.<ciphertext>`, each base64url: text, so any client setting reads it back unchanged. */
function seal(token: unknown, ltik: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(ltik), iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(token), 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
}

function open<T>(stored: string, ltik: string, aad: string): T | undefined {
  const [version, iv, tag, ciphertext, ...rest] = stored.split('.');
  if (version !== VERSION || iv === undefined || tag === undefined || ciphertext === undefined || rest.length > 0) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFor(ltik), Buffer.from(iv, 'base64url'), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}
