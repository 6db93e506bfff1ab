// Service keys encrypted at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the application's `encryptionKey`, bound to the activity they belong to.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** The shortest `encryptionKey` accepted: 32 characters, e.g. `openssl rand -base64 32` (44). */
export const MIN_ENCRYPTION_KEY_LENGTH = 32;

const HKDF_SALT = Buffer.from('express-ltiaas-grades/redis service key store', 'utf8');
const HKDF_INFO = Buffer.from('AES-256-GCM key for service keys, v1', 'utf8');
/** Format tag of a sealed key, so a later format can be told apart (and refused) safely. */
const VERSION = 'v1';

/**
 * Seals and opens service keys with one application secret. The secret is a string (an
 * environment variable), so it is stretched into the 32-byte AES key with HKDF rather than
 * used as bytes; a purpose of its own in `info` means the same secret used for another purpose
 * (the outbox, say) gives another key. The AAD names the activity, so a sealed key copied onto
 * another activity's record fails to open instead of granting that activity's grades.
 */
export class ServiceKeyCipher {
  private readonly key: Buffer;

  constructor(encryptionKey: string) {
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(encryptionKey, 'utf8'), HKDF_SALT, HKDF_INFO, 32));
  }

  /** `v1.<iv>.<tag>.<ciphertext>`, each base64url. */
  seal(serviceKey: string, activity: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(activity, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(serviceKey, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
  }

  /** The service key, or undefined when `sealed` is not ours to open (another key, another activity, altered, unknown format). */
  open(sealed: unknown, activity: string): string | undefined {
    if (typeof sealed !== 'string') return undefined;
    const [version, iv, tag, ciphertext, ...rest] = sealed.split('.');
    if (version !== VERSION || iv === undefined || tag === undefined || ciphertext === undefined || rest.length > 0) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
      decipher.setAAD(Buffer.from(activity, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
      return plain === '' ? undefined : plain;
    } catch {
      return undefined;
    }
  }
}
