// ltiaasGrades() and ltiaasClient() instances with redisCoordination, each on its own Redis client: a deleted column forgotten for all, the unreadable-creation bound shared, whole columns from Redis, service-key grading coordinated.
import { ltiaasClient, ltiaasGrades, type LtiaasClient, type LtiaasGrades } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { redisCoordination } from '../../src/redis';
import { startRedisServer, type RedisTestServer } from './redisServer';

const API_KEY = 'coordinated-grades-api-key';
const QUIZ = { resourceId: 'shared-quiz', label: 'Shared quiz', scoreMaximum: 10, tag: 'final' };

let server: RedisTestServer;
let emulator: LtiaasEmulator;
const open: Array<LtiaasGrades | LtiaasClient> = [];

beforeAll(async () => {
  server = await startRedisServer();
  emulator = await startEmulator({ apiKey: API_KEY });
});

afterEach(async () => {
  emulator.clearFaults();
  await Promise.all(open.splice(0).map((instance) => instance.close()));
});

afterAll(async () => {
  await emulator?.close();
  await server?.stop();
});

/** `count` instances of one tool, as separate processes would be: each its own client and its own in-process state. */
function instances(count: number, prefix: string): LtiaasGrades[] {
  return Array.from({ length: count }, () => {
    const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, retry: { retries: 0 }, coordination: redisCoordination({ redis: server.client(), prefix }) });
    open.push(grades);
    return grades;
  });
}

const student = (id: string, course: string) => emulator.launch({ user: { id }, context: { id: course } });
const creations = () => emulator.countRequests({ method: 'POST', path: '/api/lineitems' });

describe('instances coordinated through Redis', () => {
  it('forget a column the LMS deleted for every instance: one 404, one new column, and the next instance goes straight to it', async () => {
    const [a, b, c] = instances(3, 'deleted:');
    const first = await a!.forLaunch(student('deleted-1', 'deleted-course').ltik).submit({ scoreGiven: 1, scoreMaximum: 10 }, { lineItem: QUIZ });
    emulator.deleteLineItem(first.lineItemId!);
    emulator.clearRequests();

    const second = await b!.forLaunch(student('deleted-2', 'deleted-course').ltik).submit({ scoreGiven: 2, scoreMaximum: 10 }, { lineItem: QUIZ });
    const third = await c!.forLaunch(student('deleted-3', 'deleted-course').ltik).submit({ scoreGiven: 3, scoreMaximum: 10 }, { lineItem: QUIZ });

    expect(second.lineItemId).not.toBe(first.lineItemId);
    expect(third.lineItemId).toBe(second.lineItemId);
    expect(emulator.requests.filter((entry) => entry.status === 404).map((entry) => entry.method)).toEqual(['POST']);
    // The one new column: the old one was forgotten in Redis, so the third instance never met the 404.
    expect(creations()).toBe(1);
    expect(emulator.lineItems({ contextId: 'deleted-course' }).map((item) => item.id)).toEqual([second.lineItemId]);
  });

  it('share the bound on creations answered without a readable id: two in all, not two per instance', async () => {
    const tools = instances(3, 'unreadable:');
    // LTIAAS answers every creation 201 with an empty body (and acts on none), so the column is never found.
    emulator.fail({ method: 'POST', path: '/api/lineitems', status: 201, body: '', times: Infinity });
    const before = creations();
    const scoresBefore = emulator.countRequests({ method: 'POST', path: /\/scores$/ });
    for (const [i, tool] of tools.entries()) {
      const failure = await tool.forLaunch(student(`unreadable-${i}`, 'unreadable-course').ltik).submit({ scoreGiven: 5, scoreMaximum: 10 }, { lineItem: QUIZ }).catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', status: 502 });
    }
    expect(creations() - before).toBe(2);
    expect(emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(scoresBefore);
  });

  it('answer findOrCreateLineItem on another instance with the whole column from Redis, without asking LTIAAS', async () => {
    const [a, b] = instances(2, 'whole:');
    const created = await a!.forLaunch(student('whole-1', 'whole-course').ltik).findOrCreateLineItem(QUIZ);
    const launch = student('whole-2', 'whole-course');
    await b!.forLaunch(launch.ltik).idToken();
    emulator.clearRequests();

    const found = await b!.forLaunch(launch.ltik).findOrCreateLineItem(QUIZ);

    expect(found).toEqual(created);
    expect(found).toMatchObject({ label: 'Shared quiz', scoreMaximum: 10, resourceId: 'shared-quiz', tag: 'final' });
    expect(emulator.countRequests()).toBe(0);
  });

  it('replace a column entry they cannot read (not written by this package) by searching again, without a second column', async () => {
    const [a, b] = instances(2, 'garbled:');
    const first = await a!.forLaunch(student('garbled-1', 'garbled-course').ltik).submit({ scoreGiven: 1, scoreMaximum: 10 }, { lineItem: QUIZ });
    const redis = server.client();
    const [key] = await redis.keys('garbled:column:*');
    await redis.set(key!, 'not a line item');
    const before = creations();

    const second = await b!.forLaunch(student('garbled-2', 'garbled-course').ltik).submit({ scoreGiven: 2, scoreMaximum: 10 }, { lineItem: QUIZ });

    expect(second.lineItemId).toBe(first.lineItemId);
    expect(creations()).toBe(before);
    expect(JSON.parse((await redis.get(key!))!)).toMatchObject({ id: first.lineItemId });
  });

  it('coordinate ltiaasClient() instances too: two jobs grading one activity by its service key at once make one column', async () => {
    const launch = student('client-1', 'client-course');
    const clients = [0, 1].map(() => {
      const client = ltiaasClient({ ltiaasUrl: emulator.url, apiKey: API_KEY, coordination: redisCoordination({ redis: server.client(), prefix: 'clients:' }) });
      open.push(client);
      return client;
    });
    emulator.enroll('client-course', { id: 'client-2' });
    const before = creations();
    const outcomes = await Promise.all(
      clients.map((client, i) =>
        client.withServiceKey(launch.serviceKey!).submitMany([{ userId: ['client-1', 'client-2'][i]!, scoreGiven: 7, scoreMaximum: 10 }], { lineItem: { resourceId: 'client-lab', label: 'Client lab', scoreMaximum: 10 } }),
      ),
    );
    expect(outcomes.flat().map((outcome) => outcome.status)).toEqual(['submitted', 'submitted']);
    expect(creations() - before).toBe(1);
    expect(emulator.lineItems({ contextId: 'client-course' }).filter((item) => item.resourceId === 'client-lab')).toHaveLength(1);
  });
});
