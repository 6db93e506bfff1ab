// Set-up for the BullMQ outbox tests: an emulator, grades instances whose outboxes share one queue on the test's redis-server, and what Redis holds.
import type Redis from 'ioredis';
import { ltiaasGrades, type LtiaasGrades, type LtiaasGradesOptions } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { bullmqOutbox, type BullmqOutbox, type BullmqOutboxOptions } from '../../src/redis';
import type { RedisTestServer } from './redisServer';

/** A key long enough for the rule (32 characters or more), easy to search for. */
export const ENCRYPTION_KEY = 'outbox-key-0123456789-abcdefghijklmnopqrstuvwxyz';
export const API_KEY = 'apikey-Z9x8C7v6B5n4';

let queues = 0;
/** A queue name of its own for each test, so that tests on one server never see each other's jobs. */
export const freshQueueName = () => `grades-${process.pid}-${Date.now().toString(36)}-${(queues += 1)}`;

export interface OutboxInstance {
  outbox: BullmqOutbox;
  grades: LtiaasGrades;
}

export interface BullmqHarness {
  emulator: LtiaasEmulator;
  queueName: string;
  /** A tool instance: its own grades instance and outbox (its own connections), on the shared queue. */
  instance(options?: Partial<BullmqOutboxOptions>, gradesOptions?: Partial<LtiaasGradesOptions>): OutboxInstance;
  close(): Promise<void>;
}

export async function startBullmqHarness(server: RedisTestServer): Promise<BullmqHarness> {
  const emulator = await startEmulator({ apiKey: API_KEY, pageSize: 50 });
  const queueName = freshQueueName();
  const instances: OutboxInstance[] = [];
  return {
    emulator,
    queueName,
    instance(options = {}, gradesOptions = {}) {
      const outbox = bullmqOutbox({ encryptionKey: ENCRYPTION_KEY, queueName, retry: { minDelayMs: 20, maxDelayMs: 100 }, ...options, connection: options.connection ?? server.client() });
      const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, outbox, retry: { retries: 0 }, timeoutMs: 2000, ...gradesOptions });
      const instance = { outbox, grades };
      instances.push(instance);
      return instance;
    },
    async close() {
      for (const { grades } of instances) await grades.close();
      await emulator.close();
    },
  };
}

/** Every key of Redis with everything it holds, as text: what a reader of Redis (a backup, a replica, MONITOR) could see. */
export async function everythingIn(redis: Redis): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      parts.push(`${type} ${key}`);
      if (type === 'string') parts.push(String(await redis.get(key)));
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.call('ZRANGE', key, '0', '-1', 'WITHSCORES')));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
      else parts.push(`(unread type ${type})`);
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

/** Polls a condition (never a fixed sleep): resolves once it holds, rejects after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what = 'a condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
