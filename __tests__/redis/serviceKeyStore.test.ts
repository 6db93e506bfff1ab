// redisServiceKeyStore() against a real redis-server: the file store's records and refresh rule, shared by instances, and no service key in clear in Redis or on its disk.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ltiaasClient, ltiaasGrades, type ServiceKeyRecord } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { redisServiceKeyStore } from '../../src/redis';
import { startRedisServer, type RedisTestServer } from './redisServer';

const ENCRYPTION_KEY = 'test-encryption-key-of-44-characters-0123456';
const API_KEY = 'service-key-store-api-key';

let server: RedisTestServer;

beforeAll(async () => {
  // The append-only file on, so that the test can read what Redis writes to its disk as well.
  server = await startRedisServer({ appendOnly: true });
});

afterAll(async () => {
  await server?.stop();
});

const record = (overrides: Partial<ServiceKeyRecord> = {}): ServiceKeyRecord => ({
  platformId: 'https://lms.example.edu',
  contextId: 'course-7',
  resourceLinkId: 'link-1',
  serviceKey: 'svc-key-4f1c9e2a7b6d3850aa11',
  lineItemId: 'https://lms.example.edu/lineitems/3',
  contextTitle: 'Botany',
  resourceLinkTitle: 'Lab 1',
  updatedAt: '2026-03-01T10:00:00.000Z',
  ...overrides,
});

/** Every way a secret could sit in a stored string: as is, or base64 / base64url / hex encoded. */
const encodings = (secret: string) => [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url'), Buffer.from(secret).toString('hex')];

/** Everything Redis holds under a prefix: each hash's fields and values. */
async function dumpPrefix(prefix: string): Promise<string> {
  const redis = server.client();
  const parts: string[] = [];
  for (const key of await redis.keys(`${prefix}*`)) parts.push(key, JSON.stringify(await redis.hgetall(key)));
  return parts.join('\n');
}

async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await filesUnder(full)));
    else found.push(full);
  }
  return found;
}

describe('redisServiceKeyStore', () => {
  it('saves, gets and lists records as the file store does, returning copies', async () => {
    const store = redisServiceKeyStore({ redis: server.client(), encryptionKey: ENCRYPTION_KEY, prefix: 'crud:' });
    await store.save(record());
    await store.save(record({ resourceLinkId: 'link-2', serviceKey: 'svc-key-second-0000000001', lineItemId: undefined, resourceLinkTitle: undefined }));
    await store.save(record({ contextId: 'course-8', serviceKey: 'svc-key-third-00000000002' }));
    await store.save(record({ platformId: 'https://other.lms', serviceKey: 'svc-key-fourth-0000000003' }));

    expect(await store.get({ platformId: 'https://lms.example.edu', contextId: 'course-7', resourceLinkId: 'link-1' })).toEqual(record());
    const second = await store.get({ platformId: 'https://lms.example.edu', contextId: 'course-7', resourceLinkId: 'link-2' });
    expect(second).toEqual({ platformId: 'https://lms.example.edu', contextId: 'course-7', resourceLinkId: 'link-2', serviceKey: 'svc-key-second-0000000001', contextTitle: 'Botany', updatedAt: '2026-03-01T10:00:00.000Z' });
    expect(await store.get({ platformId: 'https://lms.example.edu', contextId: 'course-7', resourceLinkId: 'link-9' })).toBeUndefined();

    const ids = (records: ServiceKeyRecord[]) => records.map((r) => `${r.platformId} ${r.contextId} ${r.resourceLinkId}`).sort();
    expect(ids(await store.list())).toHaveLength(4);
    expect(ids(await store.list({ contextId: 'course-7' }))).toEqual(['https://lms.example.edu course-7 link-1', 'https://lms.example.edu course-7 link-2', 'https://other.lms course-7 link-1']);
    expect(ids(await store.list({ platformId: 'https://lms.example.edu', contextId: 'course-7' }))).toEqual(['https://lms.example.edu course-7 link-1', 'https://lms.example.edu course-7 link-2']);
    expect(await store.list({ contextId: 'no-such-course' })).toEqual([]);

    const copy = (await store.get({ platformId: 'https://lms.example.edu', contextId: 'course-7', resourceLinkId: 'link-1' }))!;
    copy.serviceKey = 'changed';
    expect((await store.get({ platformId: 'https://lms.example.edu', contextId: 'course-7', resourceLinkId: 'link-1' }))!.serviceKey).toBe('svc-key-4f1c9e2a7b6d3850aa11');
  });

  it('lists every record of a hash larger than one HSCAN page', async () => {
    const store = redisServiceKeyStore({ redis: server.client(), encryptionKey: ENCRYPTION_KEY, prefix: 'many:' });
    for (let i = 0; i < 1200; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => store.save(record({ resourceLinkId: `link-${i + j}`, serviceKey: `svc-key-many-${i + j}-000000000` }))));
    }
    const listed = await store.list({ contextId: 'course-7' });
    expect(new Set(listed.map((r) => r.resourceLinkId)).size).toBe(1200);
    expect(listed).toHaveLength(1200);
  });

  it('rewrites a record only when its key or details change, or when it is older than refreshAfterMs', async () => {
    const redis = server.client();
    const store = redisServiceKeyStore({ redis, encryptionKey: ENCRYPTION_KEY, prefix: 'refresh:', refreshAfterMs: 60 * 60 * 1000 });
    const stored = async () => (await redis.hgetall('refresh:service-keys'))[JSON.stringify(['https://lms.example.edu', 'course-7', 'link-1'])];
    await store.save(record());
    const first = await stored();
    await store.save(record({ updatedAt: '2026-03-01T10:30:00.000Z' }));
    expect(await stored()).toBe(first);
    await store.save(record({ updatedAt: '2026-03-01T11:00:01.000Z' }));
    const aged = await stored();
    expect(aged).not.toBe(first);
    await store.save(record({ updatedAt: '2026-03-01T11:00:02.000Z', serviceKey: 'svc-key-rotated-00000000000' }));
    expect(await stored()).not.toBe(aged);
    expect(await store.get({ platformId: 'https://lms.example.edu', contextId: 'course-7', resourceLinkId: 'link-1' })).toMatchObject({ serviceKey: 'svc-key-rotated-00000000000', updatedAt: '2026-03-01T11:00:02.000Z' });
  });

  it('keeps no service key in clear (nor encoded) in Redis or in the files Redis writes, and another instance with the same encryptionKey reads them', async () => {
    const keys = ['svc-key-secret-aaaaaaaaaaaa', 'svc-key-secret-bbbbbbbbbbbb', 'svc-key-secret-cccccccccccc'];
    const writer = redisServiceKeyStore({ redis: server.client(), encryptionKey: ENCRYPTION_KEY, prefix: 'clear:' });
    await Promise.all(keys.map((serviceKey, i) => writer.save(record({ resourceLinkId: `link-${i}`, serviceKey }))));

    const inRedis = await dumpPrefix('clear:');
    expect(inRedis).toContain('course-7');
    const onDisk = (await Promise.all((await filesUnder(server.dir)).map((file) => fs.readFile(file, 'latin1')))).join('\n');
    expect(onDisk).toContain('clear:service-keys');
    for (const secret of [...keys, ENCRYPTION_KEY]) {
      for (const encoded of encodings(secret)) {
        expect(inRedis.includes(encoded) ? `Redis holds ${secret}` : 'clean').toBe('clean');
        expect(onDisk.includes(encoded) ? `Redis's files hold ${secret}` : 'clean').toBe('clean');
      }
    }

    const reader = redisServiceKeyStore({ redis: server.client(), encryptionKey: ENCRYPTION_KEY, prefix: 'clear:' });
    expect((await reader.list()).map((r) => r.serviceKey).sort()).toEqual([...keys].sort());
  });

  it('refuses to answer with keys it cannot decrypt (another encryptionKey, an entry moved to another activity) with SERVICE_KEY_STORE_FAILED, naming no key', async () => {
    const redis = server.client();
    const store = redisServiceKeyStore({ redis, encryptionKey: ENCRYPTION_KEY, prefix: 'wrong:' });
    await store.save(record());
    const otherKey = redisServiceKeyStore({ redis, encryptionKey: 'another-encryption-key-of-at-least-32-chars', prefix: 'wrong:' });
    const ref = { platformId: 'https://lms.example.edu', contextId: 'course-7', resourceLinkId: 'link-1' };
    for (const attempt of [() => otherKey.get(ref), () => otherKey.list()]) {
      const error = (await attempt().catch((failure: unknown) => failure)) as { code: string; status: number; retryable: boolean; message: string };
      expect(error).toMatchObject({ code: 'SERVICE_KEY_STORE_FAILED', status: 503 });
      expect(error.message).toContain('could not be decrypted with this encryptionKey');
      expect(JSON.stringify(error) + error.message).not.toContain('svc-key');
    }

    // The sealed key of link-1 copied onto link-2's record: bound to its activity, it does not open there.
    const hash = 'wrong:service-keys';
    const stolen = (await redis.hget(hash, JSON.stringify(['https://lms.example.edu', 'course-7', 'link-1'])))!;
    await redis.hset(hash, JSON.stringify(['https://lms.example.edu', 'course-7', 'link-2']), stolen);
    await expect(store.get({ ...ref, resourceLinkId: 'link-2' })).rejects.toMatchObject({ code: 'SERVICE_KEY_STORE_FAILED' });
    expect(await store.get(ref)).toEqual(record());
  });

  it('fails a call with SERVICE_KEY_STORE_FAILED, without waiting, when Redis is gone (even for a client whose commands wait through reconnects)', async () => {
    const own = await startRedisServer();
    try {
      const store = redisServiceKeyStore({ redis: own.queueClient(), encryptionKey: ENCRYPTION_KEY, commandTimeoutMs: 300 });
      await store.save(record());
      await own.kill();
      const ref = { platformId: 'https://lms.example.edu', contextId: 'course-7', resourceLinkId: 'link-1' };
      await expect(store.get(ref)).rejects.toMatchObject({ code: 'SERVICE_KEY_STORE_FAILED', status: 503, retryable: true });
      await expect(store.list()).rejects.toMatchObject({ code: 'SERVICE_KEY_STORE_FAILED' });
    } finally {
      await own.stop();
    }
  }, 30_000);

  describe('as the serviceKeyStore of several instances', () => {
    let emulator: LtiaasEmulator;
    beforeAll(async () => {
      emulator = await startEmulator({ apiKey: API_KEY });
    });
    afterAll(async () => {
      await emulator?.close();
    });

    it('records a launch\'s key on one instance and lets a job elsewhere grade with it', async () => {
      const keys = () => redisServiceKeyStore({ redis: server.client(), encryptionKey: ENCRYPTION_KEY, prefix: 'tool:' });
      const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, serviceKeyStore: keys() });
      const launch = emulator.launch({ user: { id: 'keyed-student' }, context: { id: 'keyed-course', title: 'Chemistry' }, resourceLink: { id: 'keyed-link' } });
      expect(await grades.forLaunch(launch.ltik).isAvailable()).toBe(true);

      // Another process: its own store over its own client, and a client outside any launch.
      const elsewhere = keys();
      const ref = { platformId: launch.platformId, contextId: 'keyed-course', resourceLinkId: 'keyed-link' };
      const deadline = Date.now() + 10_000;
      let found = await elsewhere.get(ref);
      while (!found && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        found = await elsewhere.get(ref);
      }
      expect(found).toMatchObject({ serviceKey: launch.serviceKey, contextTitle: 'Chemistry' });
      const client = ltiaasClient({ ltiaasUrl: emulator.url, apiKey: API_KEY });
      const lab = client.withServiceKey(found!.serviceKey);
      const column = await lab.findOrCreateLineItem({ resourceId: 'keyed-lab', label: 'Keyed lab', scoreMaximum: 10 });
      expect(await lab.submitScore(column.id, { userId: 'keyed-student', scoreGiven: 9, scoreMaximum: 10 })).toMatchObject({ status: 'submitted' });
      await client.close();
      await grades.close();
    });
  });
});
