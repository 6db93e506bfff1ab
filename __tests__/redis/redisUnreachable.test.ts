// Redis unreachable: direct grading goes on with each instance's own state (one warning, not one per grade), no grade waits on a dead or silent Redis, and the shared state is used again once Redis answers.
import net from 'node:net';
import Redis from 'ioredis';
import { ltiaasGrades, type LtiaasGrades } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { redisCoordination } from '../../src/redis';
import { waitFor } from '../helpers/toolProcesses';
import { finishQuiz, startCoordinatedTool, stopTool, type CoordinatedTool } from './coordinatedTools';
import { startRedisServer, type RedisTestServer } from './redisServer';

const API_KEY = 'redis-unreachable-api-key';
const QUIZ = { resourceId: 'outage-quiz', label: 'Outage quiz', scoreMaximum: 10 };

let emulator: LtiaasEmulator;

beforeAll(async () => {
  emulator = await startEmulator({ apiKey: API_KEY });
});

afterAll(async () => {
  await emulator?.close();
});

/** A logger that keeps what it was told. */
function recordingLogger() {
  const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, message, fields });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** Polls state until `check` holds (no fixed sleep stands in for a timer); fails after 20 s. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const outageWarnings = (lines: ReadonlyArray<{ level: string; message: string; fields: Record<string, unknown> }>) => lines.filter((line) => line.level === 'warn' && line.message.startsWith('Redis does not answer'));

describe('a tool process whose Redis is killed and started again', () => {
  let server: RedisTestServer;
  let tool: CoordinatedTool;
  const frozenAt = Date.UTC(2026, 8, 1, 9, 0, 0);

  beforeAll(async () => {
    server = await startRedisServer();
    // The process's clock stands still, so every order among one student's stamps is the score clock's alone.
    tool = await startCoordinatedTool({ LTIAAS_URL: emulator.url, LTIAAS_API_KEY: API_KEY, REDIS_URL: server.url, PREFIX: 'outage:', FROZEN_NOW: String(frozenAt), PROBE_INTERVAL_MS: '0' });
  }, 60_000);

  afterAll(async () => {
    if (tool) await stopTool(tool);
    await server?.stop();
  });

  const warnings = () => tool.output.filter((line) => line.startsWith('warn Redis does not answer'));

  it('grades through the outage with its own state, warns once, keeps one student\'s stamps increasing, and shares its state again once Redis answers', async () => {
    const ada = emulator.launch({ user: { id: 'outage-ada' }, context: { id: 'outage-course' } });
    const stamps: number[] = [];
    const grade = async (ltik: string, points: number) => {
      const answer = await finishQuiz(tool, ltik, points);
      expect(answer).toMatchObject({ status: 200, body: { status: 'submitted' } });
      return answer;
    };
    for (let i = 0; i < 3; i++) stamps.push(Date.parse((await grade(ada.ltik, i)).body.timestamp!));

    await server.kill();
    // Grades go on: Ada's, several at once, and a new course's first grade (a column this instance resolves alone).
    for (let i = 3; i < 6; i++) stamps.push(Date.parse((await grade(ada.ltik, i)).body.timestamp!));
    const classmates = Array.from({ length: 5 }, (_, i) => emulator.launch({ user: { id: `outage-classmate-${i}` }, context: { id: 'outage-course' } }));
    await Promise.all(classmates.map((classmate) => grade(classmate.ltik, 7)));
    const newcomer = emulator.launch({ user: { id: 'outage-newcomer' }, context: { id: 'outage-new-course' } });
    const newColumn = (await grade(newcomer.ltik, 4)).body.lineItemId!;
    expect(emulator.lineItems({ contextId: 'outage-new-course' }).map((item) => item.id)).toEqual([newColumn]);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toContain('"sharedThrough":"redis"');
    for (const secret of [ada.ltik, newcomer.ltik, API_KEY]) expect(tool.output.join('\n')).not.toContain(secret);

    await server.start();
    // Once the tool's client has reconnected by itself, the next grade sends one probe (and still goes alone); the probe's answer brings Redis back.
    const observer = server.client();
    await until(async () => String(await observer.client('LIST')).trim().split('\n').length >= 2);
    stamps.push(Date.parse((await grade(ada.ltik, 9)).body.timestamp!));
    await waitFor(() => tool.output.some((line) => line.startsWith('info Redis answers again')), 20_000);
    const back = await grade(ada.ltik, 10);
    stamps.push(Date.parse(back.body.timestamp!));

    // Strictly increasing before, during and after the outage: the stamps the instance made alone are a floor for Redis's.
    expect(stamps).toEqual(stamps.map((_, i) => frozenAt + i));
    // That last grade went through Redis again: its clock and its column are there (this Redis started empty).
    expect(await observer.get(`outage:score-clock:column\u0000${back.body.lineItemId}\u0000outage-ada`)).toBe(String(Date.parse(back.body.timestamp!)));
    expect(await observer.keys('outage:column:*')).toHaveLength(1);
    expect(warnings()).toHaveLength(1);
  }, 90_000);
});

describe('commands to a Redis that is gone or silent are bounded', () => {
  let grades: LtiaasGrades | undefined;
  let redis: Redis | undefined;

  afterEach(async () => {
    await grades?.close();
    redis?.disconnect();
    grades = undefined;
    redis = undefined;
  });

  const submitFor = (instance: LtiaasGrades, userId: string, contextId: string) =>
    instance.forLaunch(emulator.launch({ user: { id: userId }, context: { id: contextId } }).ltik).submit({ scoreGiven: 6, scoreMaximum: 10 }, { lineItem: QUIZ });

  it('does not wait on a killed Redis even with a client whose commands wait through reconnects (maxRetriesPerRequest: null)', async () => {
    const server = await startRedisServer();
    try {
      const { lines, logger } = recordingLogger();
      redis = server.queueClient();
      grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, logger, coordination: redisCoordination({ redis }) });
      expect(await submitFor(grades, 'gone-1', 'gone-course')).toMatchObject({ status: 'submitted' });
      expect(outageWarnings(lines)).toHaveLength(0);

      await server.kill();
      const outcomes = await Promise.all(['gone-2', 'gone-3', 'gone-4'].map((user) => submitFor(grades!, user, 'gone-course')));
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['submitted', 'submitted', 'submitted']);
      expect(await submitFor(grades, 'gone-5', 'gone-course-2')).toMatchObject({ status: 'submitted' });
      expect(outageWarnings(lines)).toHaveLength(1);
      expect(['DISCONNECTED', 'timeout', 'ECONNREFUSED', 'ECONNRESET', 'disconnected']).toContain(outageWarnings(lines)[0]!.fields.reason);
    } finally {
      await server.stop();
    }
  }, 30_000);

  it('goes on with the in-process state while a full Redis (maxmemory, noeviction) refuses writes, and shares again once there is room', async () => {
    const server = await startRedisServer();
    try {
      const { lines, logger } = recordingLogger();
      redis = server.client();
      const admin = server.client();
      grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, logger, coordination: redisCoordination({ redis, probeIntervalMs: 0 }) });
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1');
      expect(await submitFor(grades, 'full-1', 'full-course')).toMatchObject({ status: 'submitted' });
      expect(await submitFor(grades, 'full-2', 'full-course')).toMatchObject({ status: 'submitted' });
      expect(outageWarnings(lines).map((line) => line.fields.reason)).toEqual(['OOM']);

      await admin.config('SET', 'maxmemory', '0');
      // This grade sends the probe (and still goes alone); the probe's write succeeds.
      expect(await submitFor(grades, 'full-3', 'full-course')).toMatchObject({ status: 'submitted' });
      await waitFor(() => lines.some((line) => line.level === 'info' && line.message.startsWith('Redis answers again')), 10_000);
      expect(await submitFor(grades, 'full-4', 'full-course')).toMatchObject({ status: 'submitted' });
      expect(await admin.keys('ltiaas-grades:column:*')).toHaveLength(1);
      expect(emulator.lineItems({ contextId: 'full-course' })).toHaveLength(1);
      expect(outageWarnings(lines)).toHaveLength(1);
    } finally {
      await server.stop();
    }
  }, 30_000);

  it('lets instances cut off from Redis at once still end on one column for a new course: created alone, a column is converged', async () => {
    const server = await startRedisServer();
    const alone: LtiaasGrades[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const client = server.client();
        alone.push(ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, coordination: redisCoordination({ redis: client }) }));
      }
      await server.kill();
      // Each instance's creation is held back a second, so both search (and find nothing) before
      // either column exists: without convergence, each would keep a column of its own.
      emulator.fail({ method: 'POST', path: '/api/lineitems', delayMs: 1000, times: 2 });
      const creationsBefore = emulator.countRequests({ method: 'POST', path: '/api/lineitems' });
      const deletionsBefore = emulator.countRequests({ method: 'DELETE' });
      const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => submitFor(alone[i % 2]!, `alone-${i}`, 'alone-course')));
      expect(outcomes.map((outcome) => outcome.status)).toEqual(Array(10).fill('submitted'));
      const columns = emulator.lineItems({ contextId: 'alone-course' });
      expect(columns).toHaveLength(1);
      expect(new Set(outcomes.map((outcome) => outcome.lineItemId))).toEqual(new Set([columns[0]!.id]));
      expect(emulator.scores(columns[0]!.id)).toHaveLength(10);
      // Every column created beyond the first was deleted by its creator, still empty.
      const created = emulator.countRequests({ method: 'POST', path: '/api/lineitems' }) - creationsBefore;
      expect(created).toBeGreaterThanOrEqual(1);
      expect(emulator.countRequests({ method: 'DELETE' }) - deletionsBefore).toBe(created - 1);
    } finally {
      emulator.clearFaults();
      await Promise.all(alone.map((instance) => instance.close()));
      await server.stop();
    }
  }, 30_000);

  it('stops waiting for a Redis that accepts connections but never answers after commandTimeoutMs, and says so once (reason: timeout)', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { lines, logger } = recordingLogger();
      const { port } = silent.address() as net.AddressInfo;
      // No handshake and no ready check (RESP2, no CLIENT SETINFO, no INFO): the client is "ready"
      // at once and writes every command to a socket that never answers, as to a hung server.
      redis = new Redis({ host: '127.0.0.1', port, enableReadyCheck: false, disableClientInfo: true, protocol: 2, maxRetriesPerRequest: null, disconnectTimeout: 0 });
      redis.on('error', () => undefined);
      await new Promise<void>((resolve) => redis!.once('ready', () => resolve()));
      grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, logger, coordination: redisCoordination({ redis, commandTimeoutMs: 200 }) });

      const outcomes = await Promise.all(['silent-1', 'silent-2'].map((user) => submitFor(grades!, user, 'silent-course')));
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['submitted', 'submitted']);
      expect(await submitFor(grades, 'silent-3', 'silent-course')).toMatchObject({ status: 'submitted' });
      expect(emulator.lineItems({ contextId: 'silent-course' })).toHaveLength(1);
      expect(outageWarnings(lines).map((line) => line.fields.reason)).toEqual(['timeout']);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 30_000);
});
