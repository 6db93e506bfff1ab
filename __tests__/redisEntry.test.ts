// The `express-ltiaas-grades/redis` subpath without a Redis server: the main entry never loads it or ioredis, and redisCoordination() refuses bad options at start-up.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis, { type RedisOptions } from 'ioredis';
import { isLtiaasGradesError } from '../src/errors';
import { redisCoordination } from '../src/redis';

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
    expect(Object.keys(coordination).sort()).toEqual(['clock', 'columns', 'idTokens', 'lock', 'prefix']);
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
