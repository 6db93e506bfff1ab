// bullmqOutbox() refuses bad options at start-up with OPTIONS_INVALID, every problem in one message and never a secret; no Redis server needed (nothing connects).
import Redis, { type RedisOptions } from 'ioredis';
import { isLtiaasGradesError } from '../src/errors';
import { bullmqOutbox, startOutboxWorker } from '../src/redis';

const KEY = 'outbox-key-0123456789-abcdefghijklmnopqrstuvwxyz';

/** A client that never connects: enough to be checked, no socket left open. */
const clients: Redis[] = [];
function offlineClient(options: RedisOptions = {}): Redis {
  const client = new Redis({ lazyConnect: true, ...options });
  clients.push(client);
  return client;
}

afterAll(() => {
  for (const client of clients) client.disconnect();
});

function refusal(build: () => unknown): { code?: string; status?: number; message: string } {
  try {
    build();
  } catch (error) {
    expect(isLtiaasGradesError(error)).toBe(true);
    return error as { code?: string; status?: number; message: string };
  }
  throw new Error('expected OPTIONS_INVALID');
}

describe('bullmqOutbox options', () => {
  it('requires an encryptionKey of at least 32 characters, saying how to make one and never quoting it', () => {
    const missing = refusal(() => bullmqOutbox({ connection: offlineClient() } as never));
    expect(missing).toMatchObject({ code: 'OPTIONS_INVALID', status: 500 });
    expect(missing.message).toContain('"encryptionKey" is required (jobs hold ltiks and service keys)');
    expect(missing.message).toContain('openssl rand -base64 32');
    for (const encryptionKey of ['', 'thirty-one-characters-long-key!', 42]) {
      const short = refusal(() => bullmqOutbox({ connection: offlineClient(), encryptionKey } as never));
      expect(short.code).toBe('OPTIONS_INVALID');
      expect(short.message).toMatch(/"encryptionKey" (is empty|is shorter than 32 characters|must be a string)/);
      if (typeof encryptionKey === 'string' && encryptionKey) expect(short.message).not.toContain(encryptionKey);
    }
  });

  it('requires an ioredis client or ioredis options, and refuses a URL string or another Redis client', () => {
    expect(refusal(() => bullmqOutbox({ encryptionKey: KEY } as never)).message).toContain('"connection" is required: pass your ioredis client');
    const nodeRedisLike = { get: async () => null, sendCommand: async () => null, isOpen: false, duplicate: () => undefined };
    for (const connection of ['redis://127.0.0.1:6379', nodeRedisLike, 6379, new Map()]) {
      const error = refusal(() => bullmqOutbox({ connection, encryptionKey: KEY } as never));
      expect(error.code).toBe('OPTIONS_INVALID');
      expect(error.message).toContain('"connection" must be an ioredis client');
    }
  });

  it('refuses what BullMQ would misbehave with: an ioredis keyPrefix (on a client or in options), a Redis Cluster', () => {
    for (const connection of [offlineClient({ keyPrefix: 'app:' }), { host: '127.0.0.1', keyPrefix: 'app:' }]) {
      expect(refusal(() => bullmqOutbox({ connection, encryptionKey: KEY })).message).toContain('uses ioredis keyPrefix, which BullMQ does not support');
    }
    const cluster = Object.assign(Object.create(offlineClient()) as object, { isCluster: true, options: {} });
    expect(refusal(() => bullmqOutbox({ connection: cluster as never, encryptionKey: KEY })).message).toContain('Redis Cluster');
  });

  it('lists every problem at once, unknown options included, and never the client\'s password', () => {
    const connection = offlineClient({ password: 'hunter2-redis-password', keyPrefix: 'x:' });
    const error = refusal(() =>
      bullmqOutbox({ connection, encryptionKey: 'short', queueName: 'a:b', concurrency: 0, retry: { minDelayMs: 500, maxDelayMs: 100 }, maxAgeMs: 10, worker: 'yes', queue: 'x' } as never),
    );
    expect(error.message.startsWith('bullmqOutbox(): ')).toBe(true);
    for (const problem of ['keyPrefix', '"encryptionKey" is shorter', '"queueName" must not contain ":"', '"concurrency" must be greater than or equal to 1', '"retry.minDelayMs" must be less than or equal to "retry.maxDelayMs"', '"maxAgeMs"', '"worker" must be a boolean', '"queue" is not an option of bullmqOutbox()']) {
      expect([problem, error.message.includes(problem)]).toEqual([problem, true]);
    }
    expect(error.message).not.toContain('hunter2');
    expect(JSON.stringify(error)).not.toContain('hunter2');
    expect(refusal(() => bullmqOutbox(undefined as never)).message).toContain('bullmqOutbox(options): options are required');
  });

  it('startOutboxWorker() takes only an outbox made by bullmqOutbox()', async () => {
    await expect(startOutboxWorker({ connect() {} } as never)).rejects.toMatchObject({ code: 'OPTIONS_INVALID', message: expect.stringContaining('made by bullmqOutbox()') });
  });
});
