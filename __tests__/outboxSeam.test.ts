// The outbox seam: ltiaasGrades({ outbox }) takes any object with the Outbox methods (checked by shape), and a dead-letter grade can be discarded.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  fileOutbox,
  ltiaasGrades,
  OptionsError,
  type FailedGradeJobView,
  type GradeEventMap,
  type GradeJobView,
  type GradeRecord,
  type LtiaasGrades,
  type Logger,
  type Outbox,
  type OutboxWorker,
  type StoredGradeJob,
} from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { API_KEY } from './helpers/harness';

/** An outbox of the app's own, kept in memory: it delivers only when the test says so. */
class MemoryOutbox implements Outbox {
  readonly jobs = new Map<string, StoredGradeJob>();
  worker?: OutboxWorker;
  wakeUps = 0;
  private count = 0;

  connect(worker: OutboxWorker): void {
    if (this.worker) throw new Error('already connected');
    this.worker = worker;
  }
  async enqueue(grade: GradeRecord): Promise<{ id: string }> {
    const id = `memory-${++this.count}`;
    this.jobs.set(id, { v: 1, id, createdAt: new Date().toISOString(), attempts: 0, nextAttemptAt: 0, grade });
    return { id };
  }
  wake(): void {
    this.wakeUps += 1;
  }
  async pending(): Promise<GradeJobView[]> {
    return [...this.jobs.values()].map((job) => ({ id: job.id, createdAt: job.createdAt, attempts: job.attempts, nextAttemptAt: new Date(job.nextAttemptAt).toISOString() }));
  }
  async failed(): Promise<FailedGradeJobView[]> {
    return [];
  }
  async requeue(): Promise<boolean> {
    return false;
  }
  async discard(): Promise<boolean> {
    return false;
  }
  async close(): Promise<void> {}

  /** One round: every job to the worker, as a shared outbox's consumer would. */
  async deliverAll(): Promise<void> {
    for (const job of [...this.jobs.values()]) {
      job.attempts += 1;
      const outcome = await this.worker!.deliver(job, async (grade) => {
        job.grade = grade;
      });
      if (outcome.kind === 'delivered') {
        this.jobs.delete(job.id);
        this.worker!.onDelivered(job, outcome.submitted);
      } else if (outcome.grade) {
        job.grade = outcome.grade;
      }
    }
  }
}

function capturedLogs(): { lines: Array<{ level: string; fields: Record<string, unknown>; message: string }>; logger: Logger } {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, fields, message });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

function thrownBy(action: () => unknown): Error & { code?: string } {
  try {
    action();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

describe('the outbox option', () => {
  let emulator: LtiaasEmulator;
  let grades: LtiaasGrades | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    emulator = await startEmulator({ apiKey: API_KEY });
  });
  afterAll(async () => {
    await emulator.close();
  });
  afterEach(async () => {
    await grades?.close();
    grades = undefined;
    await emulator.reachable();
    // Only ever a folder this test made with mkdtemp.
    if (dir) await fs.rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('takes an outbox of the app\'s own by its methods: a grade LTIAAS cannot take is handed over as a plain record, a success wakes it, and its worker delivers the grade', async () => {
    const memory = new MemoryOutbox();
    grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, outbox: memory, retry: { retries: 0 } });
    const delivered: Array<GradeEventMap['submitted']> = [];
    grades.on('submitted', (event) => delivered.push(event));
    const held = emulator.launch({ user: { id: 'held' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const other = emulator.launch({ user: { id: 'other' }, lineItem: held.lineItemId! });

    await emulator.unreachable();
    const outcome = await grades.forLaunch(held.ltik).submit({ scoreGiven: 4, scoreMaximum: 10 });
    expect(outcome).toMatchObject({ status: 'queued', id: 'memory-1' });
    const record = memory.jobs.get('memory-1')!.grade;
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
    expect(record).toMatchObject({ ltik: held.ltik, score: { scoreGiven: 4, scoreMaximum: 10 }, timestamp: expect.any(String) });

    await emulator.reachable();
    await grades.forLaunch(other.ltik).submit({ scoreGiven: 9, scoreMaximum: 10 });
    expect(memory.wakeUps).toBe(1);
    await memory.deliverAll();
    expect(memory.jobs.size).toBe(0);
    expect(emulator.scores(held.lineItemId!, 'held').map((score) => [score.scoreGiven, score.timestamp])).toEqual([[4, record.timestamp]]);
    expect(delivered).toEqual(expect.arrayContaining([expect.objectContaining({ userId: 'held', scoreGiven: 4, fromOutbox: true })]));
  });

  it('takes a wrapper around a file outbox (an object that is not of its class)', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-seam-'));
    const file = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 50 } });
    const wrapper: Outbox = {
      connect: (worker) => file.connect(worker),
      enqueue: (grade, reason) => file.enqueue(grade, reason),
      wake: () => file.wake(),
      pending: () => file.pending(),
      failed: () => file.failed(),
      requeue: (id) => file.requeue(id),
      discard: (id) => file.discard(id),
      close: () => file.close(),
    };
    grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, outbox: wrapper, retry: { retries: 0 } });
    const student = emulator.launch({ user: { id: 'wrapped' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await emulator.unreachable();
    expect(await grades.forLaunch(student.ltik).submit({ scoreGiven: 6, scoreMaximum: 10 })).toMatchObject({ status: 'queued' });
    await emulator.reachable();
    expect(await file.drain(10_000)).toBe(true);
    expect(emulator.scores(student.lineItemId!, 'wrapped').map((score) => score.scoreGiven)).toEqual([6]);
  });

  it('refuses an object that is not an outbox, naming the methods it lacks and the fix', () => {
    const halfDone = { enqueue: async () => ({ id: 'x' }), close: async () => undefined };
    const error = thrownBy(() => ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, outbox: halfDone as unknown as Outbox }));
    expect(error).toBeInstanceOf(OptionsError);
    expect(error.code).toBe('OPTIONS_INVALID');
    expect(error.message).toContain(
      'option "outbox" is invalid: "outbox" must be an outbox, an object with the methods connect, enqueue, wake, pending, failed, requeue, discard and close; it lacks connect, wake, pending, failed, requeue and discard',
    );
    expect(error.message).toContain('pass fileOutbox({ dir }), or an object of your own with those methods');
    const folderName = thrownBy(() => ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, outbox: '/var/lib/outbox' as unknown as Outbox }));
    expect(folderName.message).toContain('it lacks connect, enqueue, wake, pending, failed, requeue, discard and close');
  });
});

describe('discarding a dead-letter grade', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-discard-'));
    for (const sub of ['pending', 'failed']) await fs.mkdir(path.join(dir, sub), { mode: 0o700 });
  });
  afterEach(async () => {
    // Only ever the folder this test made with mkdtemp.
    await fs.rm(dir, { recursive: true, force: true });
  });

  const job = (id: string) => ({
    v: 1,
    id,
    createdAt: new Date().toISOString(),
    attempts: 1,
    nextAttemptAt: 0,
    grade: { serviceKey: 'service-key-of-the-activity', userId: 'u1', scope: 'service-key:x', fixedLineItemId: 'https://lms.example/li/1', score: { scoreGiven: 1, scoreMaximum: 2, activityProgress: 'Completed', gradingProgress: 'FullyGraded' } },
  });

  it('removes it for good (gone from failed() and from failed/), and answers false for an id that is not a dead-letter grade', async () => {
    const refused = { ...job('refused'), failedAt: new Date().toISOString(), error: { code: 'LTIAAS_REJECTED', message: 'Refused by the LMS.' } };
    await fs.writeFile(path.join(dir, 'failed', 'refused.json'), JSON.stringify(refused), { mode: 0o600 });
    await fs.writeFile(path.join(dir, 'pending', 'waiting.json'), JSON.stringify(job('waiting')), { mode: 0o600 });
    // Ten minutes between probes, and an LTIAAS that refuses connections: the pending job just waits.
    const outbox = fileOutbox({ dir, retry: { minDelayMs: 600_000, maxDelayMs: 600_000 } });
    const { lines, logger } = capturedLogs();
    const grades = ltiaasGrades({ ltiaasUrl: 'http://127.0.0.1:1', apiKey: API_KEY, outbox, logger, retry: { retries: 0 } });
    try {
      expect((await outbox.failed()).map((failed) => failed.id)).toEqual(['refused']);
      expect(await outbox.discard('refused')).toBe(true);
      expect(await outbox.failed()).toEqual([]);
      expect(await fs.readdir(path.join(dir, 'failed'))).toEqual([]);
      expect(lines).toEqual(expect.arrayContaining([expect.objectContaining({ level: 'info', fields: { id: 'refused' }, message: 'outbox: dead-letter grade discarded' })]));

      expect(await outbox.discard('refused')).toBe(false);
      expect(await outbox.discard('waiting')).toBe(false);
      expect(await outbox.discard('../pending/waiting')).toBe(false);
      // (A failed attempt may be rewriting it right now: its temp file starts with a dot.)
      expect((await fs.readdir(path.join(dir, 'pending'))).filter((name) => !name.startsWith('.'))).toEqual(['waiting.json']);
    } finally {
      await grades.close();
    }
  });
});
