// Three tool processes on one BullMQ queue: one is killed with SIGKILL while 100 grades wait for LTIAAS, and the other two deliver every grade exactly once.
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { bullmqOutbox } from '../../src/redis';
import { killed, startTool, type ToolProcess } from '../helpers/toolProcesses';
import { API_KEY, ENCRYPTION_KEY, freshQueueName, until } from './bullmqHarness';
import { startRedisServer, type RedisTestServer } from './redisServer';

jest.setTimeout(300_000);

let server: RedisTestServer;
let emulator: LtiaasEmulator;
const tools: Array<ToolProcess & { port: number }> = [];

beforeAll(async () => {
  server = await startRedisServer();
  emulator = await startEmulator({ apiKey: API_KEY, logLimit: 20_000 });
});

afterAll(async () => {
  for (const tool of tools) await killed(tool.child);
  await emulator?.close();
  await server?.stop();
});

async function post(port: number, ltik: string, points: number): Promise<{ status: number; body: { status?: string; error?: { code: string } } }> {
  const response = await fetch(`http://127.0.0.1:${port}/finish?ltik=${encodeURIComponent(ltik)}&points=${points}`, { method: 'POST' });
  return { status: response.status, body: (await response.json()) as { status?: string; error?: { code: string } } };
}

it('delivers all 100 grades once after one of three instances is killed while LTIAAS is down', async () => {
  const queueName = freshQueueName();
  const env = { REDIS_URL: server.url, LTIAAS_URL: emulator.url, LTIAAS_API_KEY: API_KEY, ENCRYPTION_KEY, QUEUE_NAME: queueName };
  tools.push(...(await Promise.all([0, 1, 2].map(() => startTool(env, 'bullmqToolProcess.ts')))));

  const launches = Array.from({ length: 100 }, (_, i) => emulator.launch({ user: { id: `student-${i}` }, context: { id: 'cluster-course' } }));
  await emulator.unreachable();
  // Round-robin over the three instances, ten at a time, as a load balancer would.
  for (let start = 0; start < launches.length; start += 10) {
    const answers = await Promise.all(launches.slice(start, start + 10).map((launch, i) => post(tools[(start + i) % 3]!.port, launch.ltik, (start + i) % 11)));
    for (const answer of answers) expect(answer).toMatchObject({ status: 202, body: { status: 'queued' } });
  }
  const inspect = bullmqOutbox({ connection: server.client(), encryptionKey: ENCRYPTION_KEY, queueName, worker: false });
  expect((await inspect.stats()).pending).toBe(100);

  await killed(tools[0]!.child);
  await emulator.reachable();

  // The killed instance's grade under way (if any) comes back once its lock expires; the others deliver the rest.
  expect(await inspect.drain(240_000)).toBe(true);
  const posted = new Map<string, number>();
  for (const entry of emulator.requests) {
    if (entry.method !== 'POST' || !entry.path.endsWith('/scores') || entry.status !== 204) continue;
    const { userId } = entry.body as { userId: string };
    posted.set(userId, (posted.get(userId) ?? 0) + 1);
  }
  expect(posted.size).toBe(100);
  expect([...posted.values()].filter((count) => count !== 1)).toEqual([]);
  const [column, ...others] = emulator.lineItems({ contextId: 'cluster-course' });
  expect(others).toEqual([]);
  expect(column!.scores).toHaveLength(100);
  expect(new Set(column!.scores.map((score) => score.userId)).size).toBe(100);
  // Both survivors took part.
  for (const survivor of tools.slice(1)) expect(survivor.output.some((line) => /^delivered student-\d+ outbox$/.test(line))).toBe(true);
  await inspect.close();
});
