// redisServiceKeyStore(): the service keys of every activity in one Redis hash, shared by all instances, each key encrypted at rest (AES-256-GCM).
import Joi from 'joi';
import { gradesError, OptionsError, storageCause, type StorageUnavailableError } from '../errors';
import type { ServiceKeyRecord, ServiceKeyRef, ServiceKeyStore } from '../serviceKeys/serviceKeyStore';
import { ioredisClient } from './ioredisOption';
import { withinDeadline } from './reachability';
import { MIN_ENCRYPTION_KEY_LENGTH, ServiceKeyCipher } from './serviceKeyCipher';

/** The hash commands of an ioredis client (v5 or v6) this store calls. */
export interface RedisHashClientLike {
  readonly status?: string;
  hget(key: string, field: string): Promise<string | null>;
  hset(key: string, field: string, value: string): Promise<number>;
  hscan(key: string, cursor: string, countToken: 'COUNT', count: number): Promise<[cursor: string, elements: string[]]>;
}

/** Options of {@link redisServiceKeyStore}. */
export interface RedisServiceKeyStoreOptions {
  /** Your ioredis client (`new Redis(process.env.REDIS_URL)`); the application closes it. Required. */
  redis: RedisHashClientLike;
  /**
   * The secret the service keys are encrypted with: a string of at least 32 characters, e.g.
   * from `openssl rand -base64 32`. Required. Keep it out of Redis (an environment variable or
   * your secret manager): whoever has both can read the keys. Changing it makes the stored keys
   * unreadable (each launch stores its activity's key again).
   */
  encryptionKey: string;
  /** Prepended to the hash's name, so several tools can share one Redis. Default `ltiaas-grades:`. */
  prefix?: string;
  /** A record whose key and details did not change is rewritten at most this often, in ms. Default 1 h (as `fileServiceKeyStore`). */
  refreshAfterMs?: number;
  /** How long one Redis command may take before the call fails with SERVICE_KEY_STORE_FAILED (503, retryable). Default 2000 ms. */
  commandTimeoutMs?: number;
}

type ListFilter = Partial<Pick<ServiceKeyRef, 'platformId' | 'contextId'>>;

/** One activity's field in the hash: JSON keeps separators inside ids from merging two activities. */
const fieldOf = (ref: ServiceKeyRef) => JSON.stringify([ref.platformId, ref.contextId, ref.resourceLinkId]);

/** Whether two records differ in anything but the time they were seen (the file store's rule). */
const sameDetails = (a: ServiceKeyRecord, b: ServiceKeyRecord) => {
  const { updatedAt: _a, ...restA } = a;
  const { updatedAt: _b, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
};

const OPTIONAL_FIELDS = ['lineItemId', 'contextTitle', 'resourceLinkTitle'] as const;

/** Hash entries read per HSCAN round trip: a long list never blocks Redis in one command. */
const SCAN_COUNT = 500;

class RedisServiceKeyStore implements ServiceKeyStore {
  private readonly hash: string;

  constructor(
    private readonly redis: RedisHashClientLike,
    private readonly cipher: ServiceKeyCipher,
    prefix: string,
    private readonly refreshAfterMs: number,
    private readonly commandTimeoutMs: number,
  ) {
    this.hash = `${prefix}service-keys`;
  }

  async save(record: ServiceKeyRecord): Promise<void> {
    if (typeof record?.serviceKey !== 'string' || record.serviceKey === '' || typeof record.updatedAt !== 'string') {
      throw new TypeError('redisServiceKeyStore.save(record): the record needs platformId, contextId, resourceLinkId, serviceKey and updatedAt (strings).');
    }
    const field = fieldOf(record);
    const known = this.recordOf(field, await this.command('save', () => this.redis.hget(this.hash, field)));
    // Every launch calls save; Redis is only written when something changed or aged.
    if (known && sameDetails(known, record) && Date.parse(record.updatedAt) - Date.parse(known.updatedAt) < this.refreshAfterMs) return;
    const stored = { ...pick(record), serviceKey: this.cipher.seal(record.serviceKey, field) };
    await this.command('save', () => this.redis.hset(this.hash, field, JSON.stringify(stored)));
  }

  async get(ref: ServiceKeyRef): Promise<ServiceKeyRecord | undefined> {
    const field = fieldOf(ref);
    const stored = await this.command('get', () => this.redis.hget(this.hash, field));
    if (stored === null) return undefined;
    const record = this.recordOf(field, stored);
    if (!record) throw unreadable('get', 1);
    return record;
  }

  async list(filter: ListFilter = {}): Promise<ServiceKeyRecord[]> {
    const records: ServiceKeyRecord[] = [];
    let unreadableCount = 0;
    let cursor = '0';
    do {
      const [next, entries] = await this.command('list', () => this.redis.hscan(this.hash, cursor, 'COUNT', SCAN_COUNT));
      for (let i = 0; i + 1 < entries.length; i += 2) {
        const field = entries[i]!;
        // The field names the activity in clear, so only the matching records are decrypted.
        const activity = activityOf(field);
        if (!activity) {
          unreadableCount += 1;
          continue;
        }
        if ((filter.platformId !== undefined && activity[0] !== filter.platformId) || (filter.contextId !== undefined && activity[1] !== filter.contextId)) continue;
        const record = this.recordOf(field, entries[i + 1]!);
        if (record) records.push(record);
        else unreadableCount += 1;
      }
      cursor = next;
    } while (cursor !== '0');
    if (unreadableCount > 0) throw unreadable('list', unreadableCount);
    // HSCAN may return an entry twice (when the hash grows meanwhile): one record per activity.
    const unique = new Map(records.map((record) => [fieldOf(record), record]));
    return [...unique.values()];
  }

  /** The stored record with its service key decrypted; undefined when it is absent or cannot be read with this key. */
  private recordOf(field: string, stored: string | null): ServiceKeyRecord | undefined {
    if (stored === null) return undefined;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(stored) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    const activity = activityOf(field);
    const serviceKey = this.cipher.open(parsed?.serviceKey, field);
    if (!activity || serviceKey === undefined || typeof parsed.updatedAt !== 'string') return undefined;
    const [platformId, contextId, resourceLinkId] = activity;
    const record: ServiceKeyRecord = { platformId, contextId, resourceLinkId, serviceKey, updatedAt: parsed.updatedAt };
    for (const name of OPTIONAL_FIELDS) if (typeof parsed[name] === 'string') record[name] = parsed[name];
    return record;
  }

  private async command<T>(method: 'save' | 'get' | 'list', send: () => Promise<T>): Promise<T> {
    try {
      return await withinDeadline(this.redis, send, this.commandTimeoutMs);
    } catch (error) {
      throw gradesError('SERVICE_KEY_STORE_FAILED', {
        message: `redisServiceKeyStore.${method}: Redis did not answer within ${this.commandTimeoutMs} ms or refused the command; try again later.`,
        cause: storageCause(`redisServiceKeyStore.${method}`, error),
      });
    }
  }
}

/** The record's fields in a fixed order, without the service key (sealed separately). */
function pick(record: ServiceKeyRecord): Omit<ServiceKeyRecord, 'serviceKey'> {
  const kept: Omit<ServiceKeyRecord, 'serviceKey'> = {
    platformId: record.platformId,
    contextId: record.contextId,
    resourceLinkId: record.resourceLinkId,
    updatedAt: record.updatedAt,
  };
  for (const name of OPTIONAL_FIELDS) if (typeof record[name] === 'string') kept[name] = record[name];
  return kept;
}

function activityOf(field: string): [string, string, string] | undefined {
  try {
    const parts = JSON.parse(field) as unknown;
    return Array.isArray(parts) && parts.length === 3 && parts.every((part) => typeof part === 'string') ? (parts as [string, string, string]) : undefined;
  } catch {
    return undefined;
  }
}

function unreadable(method: 'get' | 'list', count: number): StorageUnavailableError {
  return gradesError('SERVICE_KEY_STORE_FAILED', {
    message:
      `redisServiceKeyStore.${method}: ${count === 1 ? 'a stored service key' : `${count} stored service keys`} could not be decrypted with this encryptionKey ` +
      '(the key was changed, or the entry was altered or copied from another activity); the next launch of each activity stores its key again.',
  });
}

const schema = Joi.object<Required<RedisServiceKeyStoreOptions>>({
  redis: ioredisClient,
  encryptionKey: Joi.string()
    .min(MIN_ENCRYPTION_KEY_LENGTH)
    .required()
    .messages({
      'any.required': '{{#label}} is required: pass a secret of at least 32 characters, e.g. encryptionKey: process.env.GRADES_KEY (make one with openssl rand -base64 32)',
      'string.base': `{{#label}} must be a string of at least ${MIN_ENCRYPTION_KEY_LENGTH} characters`,
      'string.empty': `{{#label}} must be a string of at least ${MIN_ENCRYPTION_KEY_LENGTH} characters, not empty (is the environment variable set?)`,
      'string.min': `{{#label}} is too short: at least ${MIN_ENCRYPTION_KEY_LENGTH} characters (make one with openssl rand -base64 32)`,
    }),
  prefix: Joi.string().max(200).default('ltiaas-grades:'),
  refreshAfterMs: Joi.number().integer().min(0).default(60 * 60 * 1000),
  commandTimeoutMs: Joi.number().integer().min(1).max(60_000).default(2000),
});

/**
 * A service key store in Redis, for tools that run several instances (or whose disk does not
 * last): one hash of records, each service key sealed with AES-256-GCM under a key derived from
 * `encryptionKey`. Same records and refresh rule as `fileServiceKeyStore`.
 * @example
 * const keys = redisServiceKeyStore({ redis, encryptionKey: process.env.GRADES_KEY! });
 * const grades = ltiaasGrades({ ltiaasUrl, apiKey, serviceKeyStore: keys });
 */
export function redisServiceKeyStore(options: RedisServiceKeyStoreOptions): ServiceKeyStore {
  if (options === undefined || options === null || typeof options !== 'object') {
    throw new OptionsError('redisServiceKeyStore(options): options are required, e.g. redisServiceKeyStore({ redis, encryptionKey: process.env.GRADES_KEY }).');
  }
  const { value, error } = schema.validate(options, { abortEarly: false });
  if (error) {
    // joi's messages name the option and the rule, never the value: no key or password is quoted.
    throw new OptionsError(`redisServiceKeyStore(): ${error.details.map((detail) => detail.message).join('; ')}.`);
  }
  return new RedisServiceKeyStore(value.redis, new ServiceKeyCipher(value.encryptionKey), value.prefix, value.refreshAfterMs, value.commandTimeoutMs);
}
