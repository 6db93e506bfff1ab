// Encryption of stored outbox jobs (AES-256-GCM, key from the `encryptionKey` option by HKDF), shared by the file and BullMQ outboxes.
//
// A stored job holds the launch's ltik and the activity's service key, so whoever reads the
// storage (a backup of the folder, a Redis replica, a MONITOR) could post grades. With an
// `encryptionKey` the job is sealed: AES-256-GCM under a key derived from the option by
// HKDF-SHA256 (fixed salt and info naming this purpose), a fresh 96-bit IV per write, and the
// job's id as additional data, so a sealed job copied under another id fails authentication.
// The same option also keys the digests that name BullMQ jobs (HMAC-SHA256, another HKDF info),
// so a job id says nothing about the grade without the key.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import Joi from 'joi';

/** The shortest `encryptionKey` accepted: 32 characters, e.g. `openssl rand -base64 32` (44). */
export const MIN_ENCRYPTION_KEY_LENGTH = 32;

const HKDF_SALT = Buffer.from('express-ltiaas-grades outbox', 'utf8');
const CIPHER_INFO = Buffer.from('AES-256-GCM key for stored grade jobs, v1', 'utf8');
const DIGEST_INFO = Buffer.from('HMAC-SHA256 key for grade job ids, v1', 'utf8');
/** Format tag of a sealed job, so a later format can be told apart (and refused) safely. */
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** How to fix a bad `encryptionKey`, in every message that refuses one (never quoting it). */
export const ENCRYPTION_KEY_FIX = `pass a secret of at least ${MIN_ENCRYPTION_KEY_LENGTH} characters from your secret store, e.g. encryptionKey: process.env.GRADES_KEY (make one with: openssl rand -base64 32)`;

/** The joi rule for an `encryptionKey` option; messages never quote the value. */
export const encryptionKeySchema = Joi.string()
  .min(MIN_ENCRYPTION_KEY_LENGTH)
  .messages({
    'any.required': `{{#label}} is required (jobs hold ltiks and service keys): ${ENCRYPTION_KEY_FIX}`,
    'string.base': `{{#label}} must be a string: ${ENCRYPTION_KEY_FIX}`,
    'string.empty': `{{#label}} is empty: ${ENCRYPTION_KEY_FIX}`,
    'string.min': `{{#label}} is shorter than ${MIN_ENCRYPTION_KEY_LENGTH} characters: ${ENCRYPTION_KEY_FIX}`,
  });

/** Seals and opens stored jobs with one `encryptionKey`; holds only derived keys, never the option itself. */
export class JobCipher {
  private readonly cipherKey: Buffer;
  private readonly digestKey: Buffer;

  constructor(encryptionKey: string) {
    const material = Buffer.from(encryptionKey, 'utf8');
    this.cipherKey = Buffer.from(hkdfSync('sha256', material, HKDF_SALT, CIPHER_INFO, 32));
    this.digestKey = Buffer.from(hkdfSync('sha256', material, HKDF_SALT, DIGEST_INFO, 32));
  }

  /** `v1.<iv>.<tag>.<ciphertext>` (base64url) of the value's JSON, bound to `id`. */
  seal(value: unknown, id: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.cipherKey, iv);
    cipher.setAAD(Buffer.from(id, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join('.');
  }

  /** The value sealed under `id`; undefined when it is not a sealed job, was sealed with another key or id, or was altered. */
  open(sealed: unknown, id: string): unknown {
    if (!isSealed(sealed)) return undefined;
    const [, iv, tag, ciphertext] = sealed.split('.') as [string, string, string, string];
    try {
      const ivBytes = Buffer.from(iv, 'base64url');
      const tagBytes = Buffer.from(tag, 'base64url');
      if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) return undefined;
      const decipher = createDecipheriv('aes-256-gcm', this.cipherKey, ivBytes, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(id, 'utf8'));
      decipher.setAuthTag(tagBytes);
      const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as unknown;
    } catch {
      return undefined;
    }
  }

  /** A keyed digest of `text` (hex), the same for the same key: names a job without saying what it holds. */
  digest(text: string): string {
    return createHmac('sha256', this.digestKey).update(text, 'utf8').digest('hex');
  }
}

/** True for text in the sealed format (whatever key sealed it). */
export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value);
}
