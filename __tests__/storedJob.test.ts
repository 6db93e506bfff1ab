// The stored outbox job: a versioned record of plain fields, converted to and from the delivery's state; other versions set aside, the previous release's upgraded.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileOutbox, ltiaasGrades, type GradeOutbox, type GradeRecord, type LtiaasGrades, type Logger } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { LtiaasApi } from '../src/client/ltiaasApi';
import { LtiaasTransport } from '../src/client/transport';
import { learnLaunch } from '../src/delivery/deliverGrade';
import type { DeliveryState } from '../src/delivery/deliveryState';
import { fromGradeRecord, toGradeRecord } from '../src/delivery/gradeRecord';
import { IdTokenReader } from '../src/grades/idTokenReader';
import { silentLogger } from '../src/logger';
import { InProcessIdTokenCache } from '../src/state/idTokenCache';
import { API_KEY } from './helpers/harness';

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

function capturedLogs(): { lines: LogLine[]; logger: Logger } {
  const lines: LogLine[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, fields, message });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

const score = { activityProgress: 'Completed', gradingProgress: 'FullyGraded' } as const;

/** A pending job as this release writes it. */
function versionOneJob(id: string, ltik: string, lineItemId: string, points: number) {
  return { v: 1, id, createdAt: new Date().toISOString(), attempts: 0, nextAttemptAt: 0, grade: { ltik, fixedLineItemId: lineItemId, score: { ...score, scoreGiven: points, scoreMaximum: 10 } } };
}

/** A pending job as the release before versioning wrote it: no `v`, the grade under `draft`. */
function previousReleaseJob(id: string, ltik: string, lineItemId: string, points: number) {
  return { id, createdAt: new Date().toISOString(), attempts: 0, nextAttemptAt: 0, draft: { ltik, fixedLineItemId: lineItemId, score: { ...score, scoreGiven: points, scoreMaximum: 10 } } };
}

async function plant(file: string, content: unknown): Promise<void> {
  await fs.writeFile(file, JSON.stringify(content), { mode: 0o600 });
  await fs.chmod(file, 0o600);
}

describe('the stored job record', () => {
  let emulator: LtiaasEmulator;
  let dir: string;
  let outbox: GradeOutbox | undefined;
  let grades: LtiaasGrades | undefined;

  beforeAll(async () => {
    emulator = await startEmulator({ apiKey: API_KEY });
  });
  afterAll(async () => {
    await emulator.close();
  });
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stored-job-'));
    for (const sub of ['pending', 'failed']) await fs.mkdir(path.join(dir, sub), { mode: 0o700 });
  });
  afterEach(async () => {
    await grades?.close();
    await outbox?.close();
    grades = undefined;
    outbox = undefined;
    await emulator.reachable();
    // Only ever the folder this test made with mkdtemp.
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** Starts a tool on the outbox folder, as a restart would. */
  function start(logger?: Logger): { box: GradeOutbox; tool: LtiaasGrades } {
    const box = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 50 } });
    const tool = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, outbox: box, retry: { retries: 0 }, ...(logger ? { logger } : {}) });
    outbox = box;
    grades = tool;
    return { box, tool };
  }

  const readJson = async (file: string) => JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;

  it('stores a queued grade as a version 1 record of plain fields: v, id, times, attempts, last error and the grade', async () => {
    const student = emulator.launch({ user: { id: 'stored' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const { box, tool } = start();
    await emulator.unreachable();
    const outcome = await tool.forLaunch(student.ltik).submit({ scoreGiven: 6, scoreMaximum: 10 }, { lineItem: { resourceId: 'lab-1', label: 'Lab 1', scoreMaximum: 10 } });
    expect(outcome).toMatchObject({ status: 'queued' });
    const id = (outcome as { id: string }).id;

    const record = await readJson(path.join(dir, 'pending', `${id}.json`));
    expect(Object.keys(record).sort()).toEqual(['attempts', 'createdAt', 'grade', 'id', 'lastError', 'nextAttemptAt', 'v']);
    expect(record).toMatchObject({ v: 1, id, attempts: 0, lastError: { code: 'LTIAAS_UNAVAILABLE' } });
    expect(record.grade).toEqual({
      ltik: student.ltik,
      lineItemSpec: { resourceId: 'lab-1', label: 'Lab 1', scoreMaximum: 10 },
      score: { scoreGiven: 6, scoreMaximum: 10, activityProgress: 'Completed', gradingProgress: 'FullyGraded' },
      timestamp: expect.any(String),
    });

    await emulator.reachable();
    box.wake();
    expect(await box.drain(10_000)).toBe(true);
  });

  it('sets aside a job file of an unknown version (v: 2) with a log line naming the version, and delivers the version 1 job beside it', async () => {
    const student = emulator.launch({ user: { id: 'versioned' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await plant(path.join(dir, 'pending', 'from-the-future.json'), { ...versionOneJob('from-the-future', student.ltik, student.lineItemId!, 9), v: 2 });
    await plant(path.join(dir, 'pending', 'current.json'), versionOneJob('current', student.ltik, student.lineItemId!, 5));
    const { lines, logger } = capturedLogs();

    const { box } = start(logger);
    expect(await box.drain(10_000)).toBe(true);
    expect(emulator.scores(student.lineItemId!, 'versioned').map((s) => s.scoreGiven)).toEqual([5]);
    expect(await fs.readdir(path.join(dir, 'quarantine'))).toEqual(['pending-from-the-future.json']);
    const setAside = lines.filter((line) => line.level === 'warn' && /set aside/.test(line.message));
    expect(setAside).toHaveLength(1);
    expect(setAside[0]!.fields).toMatchObject({ file: 'pending/from-the-future.json', movedTo: 'quarantine/pending-from-the-future.json' });
    expect(setAside[0]!.fields.reason).toBe(
      'stored job version 2 is unknown to this release of express-ltiaas-grades, which reads version 1: deliver it with the release that wrote it',
    );
    expect(JSON.stringify(lines)).not.toContain(student.ltik);
  });

  it('sets aside a job whose version is not a number, and one of version 1 still shaped as the previous release\'s', async () => {
    const student = emulator.launch({ user: { id: 'odd' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await plant(path.join(dir, 'pending', 'text-version.json'), { ...versionOneJob('text-version', student.ltik, student.lineItemId!, 9), v: student.ltik });
    await plant(path.join(dir, 'pending', 'mixed.json'), { ...previousReleaseJob('mixed', student.ltik, student.lineItemId!, 9), v: 1 });
    const { lines, logger } = capturedLogs();

    const { box } = start(logger);
    expect(await box.pending()).toEqual([]);
    expect((await fs.readdir(path.join(dir, 'quarantine'))).sort()).toEqual(['pending-mixed.json', 'pending-text-version.json']);
    const reasons = Object.fromEntries(lines.filter((line) => /set aside/.test(line.message)).map((line) => [line.fields.file, line.fields.reason]));
    expect(reasons).toEqual({
      'pending/text-version.json': 'its stored job version is not a number (this release reads version 1)',
      'pending/mixed.json': 'not a valid job',
    });
    // The reason never quotes the file: here its version was an ltik.
    expect(JSON.stringify(lines)).not.toContain(student.ltik);
    expect(emulator.scores(student.lineItemId!, 'odd')).toEqual([]);
  });

  it('sets aside a version 1 job without a grade, one whose grade has no score, and one that names no ltik nor a service key with its user and grade book; pending() keeps working and the good job is delivered', async () => {
    const student = emulator.launch({ user: { id: 'whole' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const good = versionOneJob('good', student.ltik, student.lineItemId!, 7);
    const { grade: _grade, ...withoutGrade } = versionOneJob('no-grade', student.ltik, student.lineItemId!, 9);
    const { score: _score, ...gradeWithoutScore } = good.grade;
    const { ltik: _ltik, ...gradeWithoutLtik } = good.grade;
    const broken: Record<string, unknown> = {
      'no-grade': withoutGrade,
      'no-score': { ...good, id: 'no-score', grade: gradeWithoutScore },
      // A service key alone names neither whose grade it is nor which grade book: nothing would say who is graded.
      'no-credential': { ...good, id: 'no-credential', grade: { ...gradeWithoutLtik, serviceKey: 'planted-service-key' } },
    };
    for (const [id, record] of Object.entries(broken)) await plant(path.join(dir, 'pending', `${id}.json`), record);
    await plant(path.join(dir, 'pending', 'good.json'), good);
    const { lines, logger } = capturedLogs();

    const { box } = start(logger);
    // Listing the held grades does not throw on what was set aside (it reads each job's grade and score).
    expect(await box.pending()).toEqual([expect.objectContaining({ id: 'good', scoreGiven: 7 })]);
    expect(await box.drain(10_000)).toBe(true);
    expect(emulator.scores(student.lineItemId!, 'whole').map((s) => s.scoreGiven)).toEqual([7]);
    expect((await fs.readdir(path.join(dir, 'quarantine'))).sort()).toEqual(Object.keys(broken).map((id) => `pending-${id}.json`).sort());
    const reasons = Object.fromEntries(lines.filter((line) => /set aside/.test(line.message)).map((line) => [line.fields.file, line.fields.reason]));
    expect(reasons).toEqual(Object.fromEntries(Object.keys(broken).map((id) => [`pending/${id}.json`, 'not a valid job'])));
    expect(JSON.stringify(lines)).not.toContain(student.ltik);
  });

  it('delivers a pending job written by the previous release (no version, the grade under "draft") as a version 1 job', async () => {
    const student = emulator.launch({ user: { id: 'upgraded' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await plant(path.join(dir, 'pending', 'before-versions.json'), previousReleaseJob('before-versions', student.ltik, student.lineItemId!, 8));
    const { lines, logger } = capturedLogs();

    const { box } = start(logger);
    expect(await box.drain(10_000)).toBe(true);
    expect(emulator.scores(student.lineItemId!, 'upgraded').map((s) => s.scoreGiven)).toEqual([8]);
    expect(await fs.readdir(path.join(dir, 'pending'))).toEqual([]);
    expect(await fs.readdir(path.join(dir, 'quarantine'))).toEqual([]);
    expect(lines.filter((line) => line.level === 'warn')).toEqual([]);
  });

  it('lists a dead-letter job of the previous release and re-queues it as a version 1 record', async () => {
    const student = emulator.launch({ user: { id: 'requeued' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const refused = { ...previousReleaseJob('refused-before', student.ltik, student.lineItemId!, 3), failedAt: new Date().toISOString(), error: { code: 'LTIAAS_REJECTED', message: 'Refused by the LMS.' } };
    await plant(path.join(dir, 'failed', 'refused-before.json'), refused);
    const { box } = start();
    await emulator.unreachable();

    expect((await box.failed()).map((job) => [job.id, job.scoreGiven, job.error.code])).toEqual([['refused-before', 3, 'LTIAAS_REJECTED']]);
    expect(await box.requeue('refused-before')).toBe(true);
    const record = await readJson(path.join(dir, 'pending', 'refused-before.json'));
    expect(record).toMatchObject({ v: 1, id: 'refused-before', attempts: 0, grade: { ltik: student.ltik, fixedLineItemId: student.lineItemId, score: { scoreGiven: 3 } } });
    expect(record).not.toHaveProperty('draft');

    await emulator.reachable();
    box.wake();
    expect(await box.drain(10_000)).toBe(true);
    expect(emulator.scores(student.lineItemId!, 'requeued').map((s) => s.scoreGiven)).toEqual([3]);
  });
});

describe('the delivery state and its record', () => {
  const state: DeliveryState = {
    ltik: 'ltik-of-the-launch',
    serviceKey: 'service-key-of-the-activity',
    userId: 'u1',
    scope: 'platform\u0000context:c1',
    resourceLinkId: undefined,
    lineItemSpec: { resourceId: 'quiz-1', label: 'Quiz 1', scoreMaximum: 3, tag: 'final' },
    score: { scoreGiven: 2, scoreMaximum: 3, activityProgress: 'Completed', gradingProgress: 'FullyGraded', submission: { submittedAt: '2026-01-01T00:00:00.000Z' } },
    timestamp: '2026-01-01T00:00:01.000Z',
    lineItemId: 'https://lms.example/li/1',
  };

  it('builds a record of the set fields only, a copy that later changes to the state do not reach', () => {
    const working: DeliveryState = structuredClone(state);
    const record = toGradeRecord(working);
    expect(Object.keys(record)).not.toContain('resourceLinkId');
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
    working.score.submission!.submittedAt = '2027-01-01T00:00:00.000Z';
    working.lineItemSpec!.label = 'Renamed';
    working.userId = 'someone-else';
    expect(record).toMatchObject({ userId: 'u1', lineItemSpec: { label: 'Quiz 1' }, score: { submission: { submittedAt: '2026-01-01T00:00:00.000Z' } } });
  });

  it('turns a record back into the same state, a fresh copy the delivery may fill in', () => {
    const record: GradeRecord = toGradeRecord(state);
    const again = fromGradeRecord(record);
    const { resourceLinkId: _unset, ...setFields } = state;
    expect(again).toEqual(setFields);
    again.score.scoreGiven = 0;
    again.lineItemSpec!.tag = 'draft';
    expect(record.score.scoreGiven).toBe(2);
    expect(record.lineItemSpec!.tag).toBe('final');
  });
});

describe('learning the launch', () => {
  let emulator: LtiaasEmulator;
  let transport: LtiaasTransport;
  beforeAll(async () => {
    emulator = await startEmulator({ apiKey: API_KEY });
    transport = new LtiaasTransport({ ltiaasUrl: emulator.url, apiKey: API_KEY, timeoutMs: 5000, retry: { retries: 0, minDelayMs: 0, maxDelayMs: 0 }, maxSockets: 4, logger: silentLogger });
  });
  afterAll(async () => {
    transport.close();
    await emulator.close();
  });

  it('returns what the ID token says (user, grade book, resource link, own column, service key) for the caller to merge', async () => {
    const launch = emulator.launch({ user: { id: 'learner' }, context: { id: 'course-9' }, resourceLink: { id: 'link-9' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const reader = new IdTokenReader(new LtiaasApi(transport), new InProcessIdTokenCache({ max: 10, ttlMs: 60_000 }));
    const facts = await learnLaunch(reader, launch.ltik);
    expect(facts).toEqual({
      userId: 'learner',
      scope: expect.stringContaining('context:course-9'),
      resourceLinkId: 'link-9',
      lineItemId: launch.lineItemId,
      serviceKey: launch.serviceKey,
    });
  });
});
