// The options of bullmqOutbox(): joi schema, defaults, and the checks on the Redis connection it is given (all problems in one OPTIONS_INVALID).
import Joi from 'joi';
import { OptionsError } from '../errors';
import { encryptionKeySchema } from '../outbox/jobCipher';
import { outboxOptionsFields } from '../outbox/outboxOptions';

/**
 * An ioredis client (`new Redis(process.env.REDIS_URL)`, ioredis v5 or v6). The outbox never
 * sends a command on it and never closes it: it opens its own connections with the same
 * settings (`duplicate()`), each configured as BullMQ needs it.
 */
export interface IoredisClientLike {
  duplicate(...args: never[]): unknown;
  readonly options: object;
}

/** ioredis connection options (`{ host, port, password, tls, ... }`): the outbox opens its connections with them. */
export interface IoredisOptionsLike {
  host?: string;
  port?: number;
  path?: string;
  username?: string;
  password?: string;
  db?: number;
  [option: string]: unknown;
}

export type BullmqConnection = IoredisClientLike | IoredisOptionsLike;

/** Options of {@link bullmqOutbox}. */
export interface BullmqOutboxOptions {
  /**
   * Your ioredis client, or ioredis connection options. Required. The outbox makes its own
   * connections from it (so your client's `maxRetriesPerRequest` does not matter, and your
   * client is never closed): one that fails fast for `enqueue` and the lists, and, where this
   * process delivers, one with `maxRetriesPerRequest: null` for the BullMQ worker.
   */
  connection: BullmqConnection;
  /**
   * A secret of at least 32 characters (e.g. `openssl rand -base64 32`). Required: jobs hold
   * ltiks and service keys, so each job is stored encrypted with a key derived from it. Every
   * instance sharing the queue needs the same one.
   */
  encryptionKey: string;
  /** The BullMQ queue's name. Default `ltiaas-grades`. */
  queueName?: string;
  /** BullMQ's key prefix. Default `bull` (BullMQ's own default). */
  prefix?: string;
  /** Grades this process delivers at once when LTIAAS is reachable. Default `8`. */
  concurrency?: number;
  /** Pause of every instance after a failure that may pass (exponential, full jitter). Default `{ minDelayMs: 1000, maxDelayMs: 60000 }`. */
  retry?: { minDelayMs?: number; maxDelayMs?: number };
  /** A grade still undeliverable after this long moves to the dead-letter list. Default 7 days. */
  maxAgeMs?: number;
  /**
   * Whether this process delivers queued grades once `ltiaasGrades()` or `ltiaasClient()`
   * connects the outbox. Default `true`. `false` for web instances when delivery runs in other
   * processes, which call `startOutboxWorker(outbox)`.
   */
  worker?: boolean;
}

export interface ResolvedBullmqOutboxOptions {
  connection: BullmqConnection;
  encryptionKey: string;
  queueName: string;
  prefix: string;
  concurrency: number;
  retry: { minDelayMs: number; maxDelayMs: number };
  maxAgeMs: number;
  worker: boolean;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

/** An ioredis client (or Cluster): node-redis and other clients lack `defineCommand` or `duplicate`. */
export const isIoredisClient = (value: unknown): value is IoredisClientLike & { isCluster?: boolean; options: Record<string, unknown> } => {
  const client = value as Record<string, unknown> | null;
  return (
    typeof client === 'object' &&
    client !== null &&
    typeof client.duplicate === 'function' &&
    typeof client.defineCommand === 'function' &&
    typeof client.options === 'object' &&
    client.options !== null
  );
};

/** Methods of a Redis client: an object with any of them is a client, never connection options. */
const CLIENT_METHODS = ['get', 'set', 'sendCommand', 'send', 'duplicate', 'connect', 'quit'];

const connectionSchema = Joi.any()
  .required()
  .custom((value: unknown, helpers) => {
    if (isIoredisClient(value)) {
      if (value.isCluster === true) return helpers.error('connection.cluster');
      if (value.options.keyPrefix) return helpers.error('connection.keyPrefix');
      return value;
    }
    // Options, not a client of another kind written as an object literal (node-redis, a wrapper).
    if (isPlainObject(value) && !CLIENT_METHODS.some((method) => typeof value[method] === 'function')) {
      if (value.keyPrefix) return helpers.error('connection.keyPrefix');
      return value;
    }
    return helpers.error('connection.kind');
  })
  .messages({
    'any.required': '{{#label}} is required: pass your ioredis client, as connection: new Redis(process.env.REDIS_URL), or its ioredis options (host, port, password, ...)',
    'connection.kind': '{{#label}} must be an ioredis client (new Redis(process.env.REDIS_URL), ioredis v5 or v6) or ioredis options (host, port, ...); a URL string or another Redis client is not accepted',
    'connection.keyPrefix': '{{#label}} uses ioredis keyPrefix, which BullMQ does not support: remove it and use the outbox\'s prefix option instead',
    'connection.cluster': '{{#label}} is a Redis Cluster client, which this outbox does not support yet: pass a client of a single Redis (or Sentinel) server',
  });

const KNOWN_OPTIONS = ['connection', 'encryptionKey', 'queueName', 'prefix', 'concurrency', 'retry', 'maxAgeMs', 'worker'];

const schema = Joi.object({
  connection: connectionSchema,
  encryptionKey: encryptionKeySchema.required(),
  // BullMQ builds keys as `<prefix>:<queueName>:...`: a colon in the name would blur them.
  queueName: Joi.string().min(1).max(100).pattern(/^[^:\s]+$/).default('ltiaas-grades').messages({ 'string.pattern.base': '{{#label}} must not contain ":" or spaces' }),
  prefix: Joi.string().min(1).max(100).pattern(/^[^\s]+$/).default('bull').messages({ 'string.pattern.base': '{{#label}} must not contain spaces' }),
  concurrency: outboxOptionsFields.concurrency,
  retry: outboxOptionsFields.retry,
  maxAgeMs: outboxOptionsFields.maxAgeMs,
  worker: Joi.boolean().default(true),
}).messages({ 'object.unknown': `{{#label}} is not an option of bullmqOutbox() (known: ${KNOWN_OPTIONS.join(', ')})` });

/** Validates once; throws OptionsError listing every problem (never a value: the key and the client's password stay out). */
export function resolveBullmqOutboxOptions(input: unknown): ResolvedBullmqOutboxOptions {
  if (!isPlainObject(input)) {
    throw new OptionsError('bullmqOutbox(options): options are required, e.g. bullmqOutbox({ connection: new Redis(process.env.REDIS_URL), encryptionKey: process.env.GRADES_KEY }).');
  }
  const { value, error } = schema.validate(input, { abortEarly: false, errors: { wrap: { label: '"' } } });
  if (error) throw new OptionsError(`bullmqOutbox(): ${error.details.map((detail) => detail.message).join('; ')}.`);
  return value as ResolvedBullmqOutboxOptions;
}
