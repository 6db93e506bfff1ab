// A careless app cannot crash the tool: listeners that throw or reject, a service key store that misbehaves.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { StorageUnavailableError, fileOutbox, ltiaasGrades, type Logger, type ServiceKeyRecord, type ServiceKeyStore } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { GuardedServiceKeyStore } from '../src/serviceKeys/guardedServiceKeyStore';
import { resolveLogger } from '../src/logger';
import { API_KEY, EXPRESS_VERSIONS, quizApp, startHarness, type Harness } from './helpers/harness';

/** A logger that keeps every line as text, and lets a test wait for the line it expects. */
function collectingLogger() {
  const lines: string[] = [];
  const waiters: Array<{ match: (line: string) => boolean; resolve: (line: string) => void }> = [];
  const write = (level: string) => (fields: Record<string, unknown>, message: string) => {
    const line = JSON.stringify({ level, message, fields });
    lines.push(line);
    for (const waiter of waiters.filter((w) => w.match(line))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  };
  const logger: Logger = { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
  return {
    logger,
    lines,
    /** Resolves with the first line (already logged or to come) that contains `text`. */
    line(text: string): Promise<string> {
      const found = lines.find((line) => line.includes(text));
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ match: (line) => line.includes(text), resolve }));
    },
  };
}

/** A real tool process (see fixtures/carelessTool.ts): its output lines, and a way to wait for one. */
interface ToolProcess {
  child: ChildProcess;
  port: number;
  output: string[];
  waitFor(match: (line: string) => boolean, count?: number): Promise<string[]>;
}

function startCarelessTool(env: Record<string, string>): Promise<ToolProcess> {
  const child = spawn(process.execPath, ['-r', path.join(__dirname, 'fixtures/registerTs.js'), path.join(__dirname, 'fixtures/carelessTool.ts')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const waiters: Array<() => void> = [];
  let buffered = '';
  const waitFor = (match: (line: string) => boolean, count = 1) =>
    new Promise<string[]>((resolve, reject) => {
      const check = () => {
        const found = output.filter(match);
        if (found.length >= count) {
          resolve(found);
          return true;
        }
        if (child.exitCode !== null) {
          reject(new Error(`the tool process exited (${child.exitCode}):\n${output.join('\n')}`));
          return true;
        }
        return false;
      };
      // Checked again on every new line until it matches or the process ends.
      const recheck = () => {
        if (!check()) waiters.push(recheck);
      };
      recheck();
    });
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => output.push(`stderr ${chunk.toString()}`));
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      output.push(...lines.filter(Boolean));
      for (const waiter of waiters.splice(0)) waiter();
      const listening = output.find((line) => line.startsWith('listening '));
      if (listening) resolve({ child, port: Number(listening.split(' ')[1]), output, waitFor });
    });
    child.on('exit', (code) => {
      for (const waiter of waiters.splice(0)) waiter();
      reject(new Error(`the tool process exited (${code}):\n${output.join('\n')}`));
    });
  });
}

function stopped(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

describe.each(EXPRESS_VERSIONS)('a careless tool process (%s)', (name) => {
  let emulator: LtiaasEmulator;
  let tool: ToolProcess | undefined;
  beforeEach(async () => {
    emulator = await startEmulator({ apiKey: API_KEY });
  });
  afterEach(async () => {
    if (tool) await stopped(tool.child);
    tool = undefined;
    await emulator.close();
  });

  it('keeps answering when its listeners throw or reject and its key store misbehaves; logs say so without a secret', async () => {
    tool = await startCarelessTool({ LTIAAS_URL: emulator.url, LTIAAS_API_KEY: API_KEY, EXPRESS_MAJOR: name === 'Express 4' ? '4' : '5' });
    const base = `http://127.0.0.1:${tool.port}`;
    const launches = Array.from({ length: 5 }, (_, i) =>
      emulator.launch({ user: { id: `careless-${i}` }, context: { id: 'careless' }, resourceLink: { id: `link-${i}` }, lineItem: { label: `Lab ${i}`, scoreMaximum: 10 } }),
    );
    const instructor = emulator.launch({ role: 'instructor', user: { id: 'teacher' }, context: { id: 'careless' }, resourceLink: { id: 'link-0' }, lineItem: launches[0]!.lineItemId! });

    // Pages that do not grade: each launch's key is saved in the background, each save misbehaving its own way.
    for (const launch of launches) {
      const page = await fetch(`${base}/plain?ltik=${launch.ltik}`);
      expect([page.status, await page.json()]).toEqual([200, { ok: true }]);
    }
    await tool.waitFor((line) => line.startsWith('save '), 5);
    // Throws synchronously, rejects, returns a thenable that throws: three failures logged. Returning nothing or 42 is a save.
    const saveFailures = await tool.waitFor((line) => line.includes('serviceKeyStore.save failed'), 3);
    expect(saveFailures.map((line) => JSON.parse(line.slice('log '.length)).fields.error)).toEqual([
      'save threw synchronously for [redacted]',
      'save rejected for [redacted]',
      "save's thenable threw for [redacted]",
    ]);
    expect((await fetch(`${base}/plain`)).status).toBe(200);

    // A grade goes through whatever its listeners do; both failures are logged with the event's name.
    const graded = await fetch(`${base}/finish?ltik=${launches[0]!.ltik}&points=7`, { method: 'POST' });
    expect([graded.status, await graded.json()]).toEqual([200, expect.objectContaining({ status: 'submitted', scoreGiven: 7 })]);
    await tool.waitFor((line) => line === `submitted ${launches[0]!.userId}`);
    const listenerLines = await tool.waitFor((line) => line.includes('grade event listener failed'), 2);
    expect(listenerLines.map((line) => JSON.parse(line.slice('log '.length)).fields).sort((a, b) => a.error.localeCompare(b.error))).toEqual([
      { event: 'submitted', error: 'async submitted listener rejected' },
      { event: 'submitted', error: 'submitted listener threw' },
    ]);
    expect(emulator.scores(launches[0]!.lineItemId!, launches[0]!.userId).at(-1)).toMatchObject({ scoreGiven: 7 });

    // A refused grade: the answer says why, and the async `rejected` listener's failure is only logged.
    const refused = await fetch(`${base}/finish?ltik=${instructor.ltik}&points=3`, { method: 'POST' });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('LTIAAS_REJECTED');
    await tool.waitFor((line) => line.includes('async rejected listener rejected'));

    expect((await fetch(`${base}/plain`)).status).toBe(200);
    expect(tool.child.exitCode).toBeNull();
    expect(tool.output.filter((line) => line.startsWith('unhandledRejection') || line.startsWith('stderr'))).toEqual([]);
    const logs = tool.output.filter((line) => line.startsWith('log ')).join('\n');
    for (const secret of [API_KEY, instructor.ltik, instructor.serviceKey!, ...launches.flatMap((l) => [l.ltik, l.serviceKey!])]) {
      expect(logs).not.toContain(secret);
    }
  });
});

describe.each(EXPRESS_VERSIONS)('a service key store whose every method throws synchronously (%s)', (_name, expressLib) => {
  let harness: Harness;
  let log: ReturnType<typeof collectingLogger>;
  let saves: number;

  beforeEach(async () => {
    log = collectingLogger();
    saves = 0;
    const throwingStore = {
      save: (record: ServiceKeyRecord) => {
        saves += 1;
        throw new Error(`cannot save ${record.serviceKey}`);
      },
      get: () => {
        throw new Error('cannot get');
      },
      list: () => {
        throw new Error('cannot list');
      },
    } as unknown as ServiceKeyStore;
    harness = await startHarness({ serviceKeyStore: throwingStore, logger: log.logger });
  });
  afterEach(async () => {
    await harness.close();
  });

  it('leaves pages, grading in a launch and grading outside a launch working', async () => {
    const app = quizApp(expressLib, harness.grades);
    const launch = harness.emulator.launch({ user: { id: 'keyless' }, context: { id: 'throwing-store' }, lineItem: { label: 'Activity', scoreMaximum: 5 } });
    await request(app).get(`/plain?ltik=${launch.ltik}`).expect(200, { ok: true });
    await log.line('serviceKeyStore.save failed');
    await request(app).get('/plain').expect(200);

    const inLaunch = await request(app).post(`/activity/finish?ltik=${launch.ltik}`);
    expect([inLaunch.status, inLaunch.body.status]).toEqual([200, 'submitted']);
    const outside = await harness.grades.withServiceKey(launch.serviceKey!).submitScore(launch.lineItemId!, { userId: 'keyless', scoreGiven: 4, scoreMaximum: 5 });
    expect(outside).toMatchObject({ status: 'submitted', scoreGiven: 4 });
    expect(harness.emulator.scores(launch.lineItemId!, 'keyless').map((s) => s.scoreGiven)).toEqual([0, 4]);

    expect(saves).toBe(1);
    const logs = log.lines.join('\n');
    for (const secret of [API_KEY, launch.ltik, launch.serviceKey!]) expect(logs).not.toContain(secret);
  });
});

describe('event listeners outside Express', () => {
  it('log a listener that rejects or throws, with the event name and message only, and leave the outcome alone', async () => {
    const emulator = await startEmulator({ apiKey: API_KEY });
    const log = collectingLogger();
    const client = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, retry: { retries: 0 }, logger: log.logger });
    try {
      const launch = emulator.launch({ user: { id: 'listened' }, lineItem: { label: 'Quiz', scoreMaximum: 10 } });
      client.on('submitted', async () => {
        throw new Error(`listener failed after grading ${API_KEY}`);
      });
      client.on('submitted', () => {
        // A careless app throws anything.
        throw 'a string, not an Error';
      });
      const outcome = await client.forLaunch(launch.ltik).submit({ scoreGiven: 9, scoreMaximum: 10 });
      expect(outcome).toMatchObject({ status: 'submitted', scoreGiven: 9 });
      const rejected = JSON.parse(await log.line('listener failed after grading'));
      expect(rejected).toEqual({ level: 'error', message: 'grade event listener failed', fields: { event: 'submitted', error: 'listener failed after grading [redacted]' } });
      const thrown = JSON.parse(await log.line('a string, not an Error'));
      expect(thrown.fields).toEqual({ event: 'submitted', error: 'a string, not an Error' });
    } finally {
      await client.close();
      await emulator.close();
    }
  });

  it('a logger whose every method throws does not fail a queued grade nor stop the outbox delivering it', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'throwing-logger-'));
    const emulator = await startEmulator({ apiKey: API_KEY });
    const throwing = () => {
      throw new Error('logger is down');
    };
    const outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 100 } });
    const client = ltiaasGrades({
      ltiaasUrl: emulator.url,
      apiKey: API_KEY,
      retry: { retries: 0 },
      outbox,
      logger: { debug: throwing, info: throwing, warn: throwing, error: throwing },
    });
    try {
      const launch = emulator.launch({ lineItem: { label: 'Quiz', scoreMaximum: 10 } });
      await emulator.unreachable();
      // Queueing logs a warning: a throwing logger must not turn the 202 into a failure.
      await expect(client.forLaunch(launch.ltik).submit({ scoreGiven: 7, scoreMaximum: 10 })).resolves.toMatchObject({ status: 'queued' });
      expect(await outbox.pending()).toHaveLength(1);
      await emulator.reachable();
      expect(await outbox.drain(10_000)).toBe(true);
      expect(emulator.scores(launch.lineItemId!).map((score) => [score.userId, score.scoreGiven])).toEqual([[launch.userId, 7]]);
    } finally {
      await client.close();
      await emulator.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('a logger that throws while reporting a listener does not fail the grade', async () => {
    const emulator = await startEmulator({ apiKey: API_KEY });
    const brokenLogger = { error: () => { throw new Error('logger is down'); } };
    const client = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, retry: { retries: 0 }, logger: brokenLogger });
    try {
      const launch = emulator.launch({ lineItem: { label: 'Quiz', scoreMaximum: 10 } });
      let settled!: () => void;
      const asyncListenerDone = new Promise<void>((resolve) => (settled = resolve));
      client.on('submitted', () => {
        throw new Error('sync');
      });
      client.on('submitted', async () => {
        settled();
        throw new Error('async');
      });
      await expect(client.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).resolves.toMatchObject({ status: 'submitted' });
      await asyncListenerDone;
      // One turn of the event loop: Node reports unhandled rejections (which Jest fails the test on) by then.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      await client.close();
      await emulator.close();
    }
  });
});

describe('GuardedServiceKeyStore', () => {
  const SERVICE_KEY = 'sk_9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddccbbaa9988';
  const record: ServiceKeyRecord = { platformId: 'p', contextId: 'c', resourceLinkId: 'r', serviceKey: SERVICE_KEY, updatedAt: '2026-01-01T00:00:00.000Z' };
  const ref = { platformId: 'p', contextId: 'c', resourceLinkId: 'r' };
  const guard = (store: Partial<Record<keyof ServiceKeyStore, unknown>>) => {
    const log = collectingLogger();
    return { log, store: new GuardedServiceKeyStore(store as unknown as ServiceKeyStore, resolveLogger(log.logger), [API_KEY]) };
  };

  it.each([
    ['throws synchronously', () => { throw new Error(`duplicate key ${SERVICE_KEY} for ${API_KEY}`); }],
    ['rejects', () => Promise.reject(new Error(`duplicate key ${SERVICE_KEY}`))],
    ['rejects with a non-Error', () => Promise.reject(SERVICE_KEY)],
  ])('save never rejects when the store\'s save %s, and logs without the key', async (_case, save) => {
    const { log, store } = guard({ save });
    await expect(store.save(record)).resolves.toBeUndefined();
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toContain('serviceKeyStore.save failed');
    expect(log.lines[0]).toContain('"resourceLinkId":"r"');
    expect(log.lines[0]).not.toContain(SERVICE_KEY);
    expect(log.lines[0]).not.toContain(API_KEY);
  });

  it.each([
    ['is synchronous and returns nothing', () => undefined],
    ['returns a value that is not a promise', () => 42],
  ])('save takes a store whose save %s as saved', async (_case, save) => {
    const { log, store } = guard({ save });
    await expect(store.save(record)).resolves.toBeUndefined();
    expect(log.lines).toEqual([]);
  });

  it.each([
    ['throws synchronously', () => { throw new Error(`connection refused, key ${SERVICE_KEY}`); }],
    ['rejects', () => Promise.reject(new Error('timeout'))],
    ['returns a record without a key', () => ({ platformId: 'p' })],
    ['returns a string', () => SERVICE_KEY],
  ])('get turns a store whose get %s into SERVICE_KEY_STORE_FAILED (503, retryable), logged without the key', async (_case, get) => {
    const { log, store } = guard({ get });
    const failure = await store.get(ref).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StorageUnavailableError);
    expect(failure).toMatchObject({ code: 'SERVICE_KEY_STORE_FAILED', status: 503, retryable: true });
    expect((failure as Error).cause).toMatchObject({ kind: 'storage', operation: 'serviceKeyStore.get' });
    expect((failure as Error).message).toMatch(/serviceKeyStore\.get/);
    expect(log.lines.join('\n')).toContain('serviceKeyStore.get failed');
    expect(JSON.stringify(failure) + log.lines.join('\n')).not.toContain(SERVICE_KEY);
  });

  it('get answers a record, or undefined for null and undefined, as the store returns them (sync or async)', async () => {
    expect(await guard({ get: () => record }).store.get(ref)).toEqual(record);
    expect(await guard({ get: async () => record }).store.get(ref)).toEqual(record);
    expect(await guard({ get: () => null }).store.get(ref)).toBeUndefined();
    expect(await guard({ get: () => undefined }).store.get(ref)).toBeUndefined();
  });

  it.each([
    ['throws synchronously', () => { throw new Error('cannot list'); }],
    ['rejects', () => Promise.reject(new Error('cannot list'))],
    ['returns something that is not a list', () => 'not a list'],
    ['returns a list with something that is not a record', () => [record, 7]],
  ])('list turns a store whose list %s into SERVICE_KEY_STORE_FAILED', async (_case, list) => {
    const { log, store } = guard({ list });
    await expect(store.list({ contextId: 'c' })).rejects.toMatchObject({ code: 'SERVICE_KEY_STORE_FAILED', status: 503, retryable: true });
    expect(log.lines.join('\n')).toContain('serviceKeyStore.list failed');
  });

  it('list answers the records a store returns synchronously', async () => {
    expect(await guard({ list: () => [record] }).store.list()).toEqual([record]);
  });

  it('a logger that throws does not turn a failed save into a rejection', async () => {
    const store = new GuardedServiceKeyStore({ save: () => { throw new Error('no'); } } as unknown as ServiceKeyStore, resolveLogger({ error: () => { throw new Error('logger down'); } }));
    await expect(store.save(record)).resolves.toBeUndefined();
  });
});
