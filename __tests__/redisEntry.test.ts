// The `express-ltiaas-grades/redis` subpath without a Redis server: the main entry never loads it or ioredis, and redisCoordination() refuses bad options at start-up.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis, { type RedisOptions } from 'ioredis';
import { isLtiaasGradesError } from '../src/errors';
import { ltiaasClient, ltiaasGrades } from '../src';
import { resolveOptions } from '../src/options';
import { redisCoordination, redisServiceKeyStore } from '../src/redis';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');

/** The modules a fresh `node` loads for `entry` (the TypeScript sources, compiled on the fly), relative to the repository. */
async function modulesLoadedBy(entry: string): Promise<string[]> {
  const script = `require(${JSON.stringify(path.join(root, entry))}); console.log(JSON.stringify(Object.keys(require.cache)));`;
  const { stdout } = await run(process.execPath, ['-r', path.join(root, '__tests__/fixtures/registerTs.js'), '-e', script], { cwd: root });
  return (JSON.parse(stdout) as string[]).map((file) => path.relative(root, file));
}

/** A client that never connects: enough to validate options, no server and no open socket. */
const offlineClient = (options: RedisOptions = {}) => new Redis({ lazyConnect: true, ...options });

function optionsError(build: () => unknown): { code?: string; status?: number; message: string } {
  try {
    build();
  } catch (error) {
    expect(isLtiaasGradesError(error)).toBe(true);
    return error as { code?: string; status?: number; message: string };
  }
  throw new Error('expected OPTIONS_INVALID');
}

describe('the redis subpath', () => {
  it('is not loaded by the main entry, and neither is ioredis nor bullmq', async () => {
    const loaded = await modulesLoadedBy('src/index.ts');
    expect(loaded).toContain('src/index.ts');
    expect(loaded.filter((file) => file.startsWith('src/redis/') || /node_modules\/(ioredis|@ioredis|bullmq)\//.test(file))).toEqual([]);
  });

  it('does not load ioredis itself: the application passes its own client', async () => {
    const loaded = await modulesLoadedBy('src/redis/index.ts');
    expect(loaded).toContain('src/redis/redisCoordination.ts');
    expect(loaded.filter((file) => /node_modules\/(ioredis|@ioredis)\//.test(file))).toEqual([]);
  });

  it('loads bullmq only once a BullMQ outbox is made, so that redisCoordination() users need not install it', async () => {
    const loaded = await modulesLoadedBy('src/redis/index.ts');
    expect(loaded).toContain('src/redis/bullmqOutbox.ts');
    expect(loaded.filter((file) => /node_modules\/bullmq\//.test(file))).toEqual([]);
  });
});

describe('the redis subpath in package.json', () => {
  const manifest = require('../package.json') as {
    files: string[];
    exports: Record<string, { import: { types: string; default: string }; require: { types: string; default: string } }>;
    peerDependencies: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    devDependencies: Record<string, string>;
    dependencies: Record<string, string>;
  };

  it('resolves express-ltiaas-grades/redis without `exports` (TypeScript node10): redis/package.json points at the built entry', () => {
    const stub = require('../redis/package.json') as { types: string; main: string; module: string };
    const fromStub = (target: string) => path.posix.join('redis', target);
    const redis = manifest.exports['./redis']!;
    expect(redis.require.default).toBe('./dist/redis.js');
    expect(fromStub(stub.types)).toBe(path.posix.normalize(redis.require.types));
    expect(fromStub(stub.main)).toBe(path.posix.normalize(redis.require.default));
    expect(fromStub(stub.module)).toBe(path.posix.normalize(redis.import.default));
    expect(manifest.files).toContain('redis/package.json');
  });

  it('has ioredis as an optional peer (installed only by those who use Redis), never a dependency', () => {
    expect(manifest.peerDependencies.ioredis).toBeDefined();
    expect(manifest.peerDependenciesMeta?.ioredis).toEqual({ optional: true });
    expect(manifest.devDependencies.ioredis).toBeDefined();
    expect(manifest.dependencies.ioredis).toBeUndefined();
  });

  it('has bullmq 6.7 or later 6.x as an optional peer (for bullmqOutbox() only), and tests against 6.7.x', () => {
    expect(manifest.peerDependencies.bullmq).toBe('^6.7.0');
    expect(manifest.peerDependenciesMeta?.bullmq).toEqual({ optional: true });
    expect(manifest.devDependencies.bullmq).toMatch(/^~6\.7\./);
    expect(manifest.dependencies.bullmq).toBeUndefined();
  });
});

describe('redisCoordination options', () => {
  it('accepts an ioredis client and applies the default prefix', () => {
    const coordination = redisCoordination({ redis: offlineClient() });
    expect(coordination.prefix).toBe('ltiaas-grades:');
    expect(coordination.sharedThrough).toBe('redis');
    expect(Object.keys(coordination).sort()).toEqual(['clock', 'columns', 'idTokens', 'lock', 'prefix', 'sharedState', 'sharedThrough']);
  });

  it('refuses missing options and a missing client with OPTIONS_INVALID, naming the fix', () => {
    const none = optionsError(() => redisCoordination(undefined as never));
    expect(none).toMatchObject({ code: 'OPTIONS_INVALID', status: 500 });
    expect(none.message).toContain('new Redis(process.env.REDIS_URL)');
    const noClient = optionsError(() => redisCoordination({} as never));
    expect(noClient.code).toBe('OPTIONS_INVALID');
    expect(noClient.message).toBe('redisCoordination(): "redis" is required: pass your ioredis client, as redis: new Redis(process.env.REDIS_URL).');
  });

  it('refuses a client that is not ioredis (a URL string, a node-redis-like object) with OPTIONS_INVALID', () => {
    for (const redis of ['redis://127.0.0.1:6379', { get: async () => null, eval: async () => null, evalsha: async () => null, sendCommand: async () => null }]) {
      const error = optionsError(() => redisCoordination({ redis } as never));
      expect(error.code).toBe('OPTIONS_INVALID');
      expect(error.message).toContain('"redis" must be an ioredis client');
    }
  });

  it('refuses a Redis Cluster client (its scripts use several keys at once) with OPTIONS_INVALID', () => {
    const cluster = new Redis.Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    const error = optionsError(() => redisCoordination({ redis: cluster as never }));
    expect(error.code).toBe('OPTIONS_INVALID');
    expect(error.message).toContain('"redis" is a Redis Cluster client: the coordination needs one Redis (or a primary with replicas)');
    cluster.disconnect();
  });

  it('refuses unknown options and out-of-range durations, all in one message', () => {
    const error = optionsError(() => redisCoordination({ redis: offlineClient(), lockTtlMs: 5, columnTtlMs: -1, prefx: 'x:' } as never));
    expect(error.code).toBe('OPTIONS_INVALID');
    expect(error.message).toContain('"lockTtlMs" must be greater than or equal to 100');
    expect(error.message).toContain('"columnTtlMs" must be greater than or equal to 1000');
    expect(error.message).toContain('"prefx" is not allowed');
  });

  it('never puts the client (its URL or password) in the message', () => {
    const redis = offlineClient({ password: 'hunter2-redis-password', host: '127.0.0.1' });
    const error = optionsError(() => redisCoordination({ redis, lockWaitMs: 'soon' } as never));
    expect(error.message).not.toContain('hunter2');
    expect(JSON.stringify(error)).not.toContain('hunter2');
  });
});

describe('the coordination option of ltiaasGrades() and ltiaasClient()', () => {
  const valid = { ltiaasUrl: 'http://127.0.0.1:1', apiKey: 'key-1234567890abcdef' };

  it('takes what redisCoordination() returns, as the very object (checked by shape, not copied)', async () => {
    const coordination = redisCoordination({ redis: offlineClient() });
    expect(resolveOptions({ ...valid, coordination }).coordination).toBe(coordination);
    expect(resolveOptions({ ...valid, coordination }, 'ltiaasClient').coordination).toBe(coordination);
    const grades = ltiaasGrades({ ...valid, coordination });
    const client = ltiaasClient({ ...valid, coordination });
    await grades.close();
    await client.close();
  });

  it('refuses the Redis client itself with OPTIONS_INVALID naming the fix, without describing the client', () => {
    const redis = offlineClient({ password: 'hunter2-redis-password' });
    for (const factory of [ltiaasGrades, ltiaasClient] as const) {
      const error = optionsError(() => factory({ ...valid, coordination: redis as never }));
      expect(error).toMatchObject({ code: 'OPTIONS_INVALID', status: 500 });
      expect(error.message).toContain('option "coordination" is invalid: "coordination" must be what redisCoordination() returns, not the Redis client itself; pass redisCoordination({ redis: new Redis(process.env.REDIS_URL) })');
      expect(error.message).toContain("imported from 'express-ltiaas-grades/redis'");
      expect(JSON.stringify(error) + error.message).not.toContain('hunter2');
    }
  });

  it('refuses anything else that is not a coordination, listed with the other problems', () => {
    for (const coordination of [true, 'redis://127.0.0.1:6379', { sharedThrough: 'redis' }, { sharedState: () => undefined }]) {
      const error = optionsError(() => ltiaasGrades({ ...valid, coordination: coordination as never }));
      expect(error.code).toBe('OPTIONS_INVALID');
      expect(error.message).toContain('"coordination" must be what redisCoordination() from express-ltiaas-grades/redis returns');
    }
    const both = optionsError(() => ltiaasGrades({ ...valid, timeoutMs: -1, coordination: {} as never }));
    expect(both.message).toContain('2 problems');
  });
});

describe('redisServiceKeyStore options', () => {
  const encryptionKey = 'k'.repeat(32);

  it('accepts an ioredis client and an encryptionKey of 32 characters or more', () => {
    const store = redisServiceKeyStore({ redis: offlineClient(), encryptionKey });
    expect([typeof store.save, typeof store.get, typeof store.list]).toEqual(['function', 'function', 'function']);
  });

  it('refuses a missing, empty, short or non-string encryptionKey at start with OPTIONS_INVALID, never quoting it', () => {
    const cases: Array<[unknown, string]> = [
      [undefined, '"encryptionKey" is required'],
      ['', 'not empty (is the environment variable set?)'],
      ['short-secret-31-characters-long', '"encryptionKey" is too short: at least 32 characters'],
      [Buffer.alloc(32, 7), '"encryptionKey" must be a string of at least 32 characters'],
    ];
    for (const [key, says] of cases) {
      const error = optionsError(() => redisServiceKeyStore({ redis: offlineClient(), encryptionKey: key as never }));
      expect(error).toMatchObject({ code: 'OPTIONS_INVALID', status: 500 });
      expect(error.message).toContain(says);
      if (typeof key === 'string' && key !== '') expect(error.message).not.toContain(key);
    }
    expect('short-secret-31-characters-long').toHaveLength(31);
  });

  it('refuses a missing client, a non-ioredis client and unknown options, all in one message', () => {
    const error = optionsError(() => redisServiceKeyStore({ redis: { get: async () => null } as never, encryptionKey, prefx: 'x' } as never));
    expect(error.code).toBe('OPTIONS_INVALID');
    expect(error.message).toContain('"redis" must be an ioredis client');
    expect(error.message).toContain('"prefx" is not allowed');
    expect(optionsError(() => redisServiceKeyStore({ encryptionKey } as never)).message).toContain('"redis" is required');
    expect(optionsError(() => redisServiceKeyStore(undefined as never)).message).toContain('redisServiceKeyStore(options): options are required');
  });
});
