// RedisIdTokenCache against a real redis-server: what Redis holds is useless without the ltik, another instance reads it with the ltik, a moved or tampered entry is dropped.
import { randomBytes } from 'node:crypto';
import type { IdToken } from '../../src/types';
import { MAX_ID_TOKEN_TTL_MS, RedisIdTokenCache } from '../../src/redis/idTokenCache';
import { startRedisServer, type RedisTestServer } from './redisServer';

let server: RedisTestServer;

beforeAll(async () => {
  server = await startRedisServer();
});

afterAll(async () => {
  await server?.stop();
});

const newLtik = () => `eyJ${randomBytes(96).toString('base64url')}`;

const SERVICE_KEY = 'service-key-7f3a9c2e51d84b6f';
const token = (userId: string): IdToken => ({
  user: { id: userId, roles: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'], name: 'Ada Lovelace', email: 'ada@example.edu' },
  platform: { id: 'https://lms.example.edu', clientId: 'client-1', deploymentId: 'deployment-1' },
  launch: { context: { id: 'course-42', title: 'Analytical Engines' }, resourceLink: { id: 'link-9' } },
  services: { assignmentAndGrades: { available: true, lineItemId: 'https://lms.example.edu/lineitems/5' }, serviceKey: SERVICE_KEY },
});

/** Every way a secret could sit in a stored string: as is, or base64 / base64url encoded. */
const encodings = (secret: string) => [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url'), Buffer.from(secret).toString('hex')];

describe('RedisIdTokenCache', () => {
  it('stores under a digest of the ltik a value that holds neither the ltik nor any field of the token (user id, name, email, service key, ids)', async () => {
    const raw = server.client();
    const cache = new RedisIdTokenCache(raw, { prefix: 'secrets:' });
    const ltik = newLtik();
    await cache.set(ltik, token('user-1234567'), 60_000);

    const keys = await raw.keys('secrets:*');
    expect(keys).toEqual([cache.keyOf(ltik)]);
    expect(keys[0]).toMatch(/^secrets:id-token:[A-Za-z0-9_-]{43}$/);
    const stored = (await raw.get(keys[0]!))!;
    const secrets = [ltik, 'user-1234567', 'Ada Lovelace', 'ada@example.edu', SERVICE_KEY, 'course-42', 'link-9', 'client-1', 'lineitems/5'];
    for (const secret of secrets) {
      for (const encoded of [...encodings(secret), ...encodings(JSON.stringify(secret))]) {
        expect(stored.includes(encoded) ? `stored value contains ${secret}` : 'clean').toBe('clean');
        expect(keys[0]!.includes(encoded) ? `key contains ${secret}` : 'clean').toBe('clean');
      }
    }
    expect(stored).not.toMatch(/user|serviceKey|platform/);
  });

  it('gives the token to another instance (another client) that has the ltik', async () => {
    const writer = new RedisIdTokenCache(server.client(), { prefix: 'shared:' });
    const reader = new RedisIdTokenCache(server.client(), { prefix: 'shared:' });
    const ltik = newLtik();
    await writer.set(ltik, token('user-1'), 60_000);
    expect(await reader.get(ltik)).toEqual(token('user-1'));
    expect(await reader.get(newLtik())).toBeUndefined();
  });

  it('cannot decrypt an entry moved under another ltik\'s key: answers undefined and deletes it', async () => {
    const raw = server.client();
    const cache = new RedisIdTokenCache(raw, { prefix: 'moved:' });
    const victim = newLtik();
    const attacker = newLtik();
    await cache.set(victim, token('victim'), 60_000);
    // A colliding key: the victim's sealed token, under the attacker's digest.
    await raw.set(cache.keyOf(attacker), (await raw.get(cache.keyOf(victim)))!, 'PX', 60_000);

    expect(await cache.get(attacker)).toBeUndefined();
    expect(await raw.exists(cache.keyOf(attacker))).toBe(0);
    expect(await cache.get(victim)).toEqual(token('victim'));
  });

  it('answers undefined for a tampered entry and deletes it', async () => {
    const raw = server.client();
    const cache = new RedisIdTokenCache(raw, { prefix: 'tampered:' });
    const ltik = newLtik();
    await cache.set(ltik, token('user-2'), 60_000);
    const [version, iv, tag, ciphertext] = (await raw.get(cache.keyOf(ltik)))!.split('.');
    const flipped = Buffer.from(ciphertext!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    await raw.set(cache.keyOf(ltik), [version, iv, tag, flipped.toString('base64url')].join('.'), 'PX', 60_000);

    expect(await cache.get(ltik)).toBeUndefined();
    expect(await raw.exists(cache.keyOf(ltik))).toBe(0);
  });

  it('answers undefined for an entry of an unknown format, and deletes it', async () => {
    const raw = server.client();
    const cache = new RedisIdTokenCache(raw, { prefix: 'format:' });
    const ltik = newLtik();
    await raw.set(cache.keyOf(ltik), JSON.stringify(token('user-3')), 'PX', 60_000);
    expect(await cache.get(ltik)).toBeUndefined();
    expect(await raw.exists(cache.keyOf(ltik))).toBe(0);
  });

  it('keeps a token at most 24 h, however long it is asked to, and stores nothing for a TTL under 1 ms', async () => {
    const raw = server.client();
    const cache = new RedisIdTokenCache(raw, { prefix: 'ttl:' });
    const ltik = newLtik();
    await cache.set(ltik, token('user-4'), 7 * MAX_ID_TOKEN_TTL_MS);
    const ttl = await raw.pttl(cache.keyOf(ltik));
    expect(ttl).toBeGreaterThan(MAX_ID_TOKEN_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(MAX_ID_TOKEN_TTL_MS);

    const short = newLtik();
    await cache.set(short, token('user-5'), 0);
    expect(await raw.exists(cache.keyOf(short))).toBe(0);
  });

  it('deletes a token on request', async () => {
    const cache = new RedisIdTokenCache(server.client(), { prefix: 'delete:' });
    const ltik = newLtik();
    await cache.set(ltik, token('user-6'), 60_000);
    await cache.delete(ltik);
    expect(await cache.get(ltik)).toBeUndefined();
  });
});
