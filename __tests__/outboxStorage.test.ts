// What the file outbox trusts: only folders and job files of this process's user, private, valid; the rest is refused or set aside.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileOutbox, ltiaasGrades, OptionsError, type GradeOutbox, type LtiaasGrades, type Logger } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { API_KEY } from './helpers/harness';
import { killed, startTool, waitFor, type ToolProcess } from './helpers/toolProcesses';

/** Tests run as root; this user owns what an attacker planted. */
const NOBODY = 65534;

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

function thrownBy(action: () => unknown): Error & { code?: string } {
  try {
    action();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

const score = { activityProgress: 'Completed', gradingProgress: 'FullyGraded' };

/** A pending job as the outbox writes it, for a grade of `points` out of 10 on a launch. */
function jobFor(id: string, ltik: string, lineItemId: string, points: number) {
  return { id, createdAt: new Date().toISOString(), attempts: 0, nextAttemptAt: 0, draft: { ltik, fixedLineItemId: lineItemId, score: { ...score, scoreGiven: points, scoreMaximum: 10 } } };
}

async function plant(file: string, content: string, options: { mode?: number; uid?: number } = {}): Promise<void> {
  await fs.writeFile(file, content, { mode: options.mode ?? 0o600 });
  await fs.chmod(file, options.mode ?? 0o600);
  if (options.uid !== undefined) await fs.chown(file, options.uid, options.uid);
}

describe('outbox folders', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-folder-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('creates the outbox folder and pending/, failed/ and quarantine/ owner-only, with a private lock file', async () => {
    const outbox = fileOutbox({ dir: path.join(dir, 'new', 'outbox') });
    try {
      for (const sub of ['', 'pending', 'failed', 'quarantine']) {
        const stat = await fs.stat(path.join(dir, 'new', 'outbox', sub));
        expect([sub, stat.mode & 0o777, stat.uid]).toEqual([sub, 0o700, process.getuid!()]);
      }
      expect((await fs.stat(path.join(dir, 'new', 'outbox', 'outbox.lock'))).mode & 0o777).toBe(0o600);
    } finally {
      await outbox.close();
    }
  });

  it('refuses an existing outbox folder that group or others can write to, with the chmod fix, and leaves it untouched', async () => {
    await fs.chmod(dir, 0o777);
    const error = thrownBy(() => fileOutbox({ dir }));
    expect(error).toBeInstanceOf(OptionsError);
    expect(error.code).toBe('OPTIONS_INVALID');
    expect(error.message).toContain(dir);
    expect(error.message).toContain('writable by group or others (mode 777)');
    expect(error.message).toContain(`chmod 700 ${dir}`);
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it('refuses an outbox folder owned by another user, with the chown fix', async () => {
    await fs.chown(dir, NOBODY, NOBODY);
    const error = thrownBy(() => fileOutbox({ dir }));
    expect(error).toBeInstanceOf(OptionsError);
    expect(error.message).toContain(`is owned by uid ${NOBODY}, not by this process's user (uid ${process.getuid!()})`);
    expect(error.message).toContain(`chown ${process.getuid!()} ${dir}`);
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it.each(['pending', 'failed', 'quarantine'])('refuses a %s/ subfolder another user owns, others can write to, or that is a link; and releases the lock', async (sub) => {
    const folder = path.join(dir, sub);
    await fs.mkdir(folder, { mode: 0o700 });
    await fs.chown(folder, NOBODY, NOBODY);
    expect(thrownBy(() => fileOutbox({ dir })).message).toContain(`${folder} is owned by uid ${NOBODY}`);

    await fs.chown(folder, process.getuid!(), process.getgid!());
    await fs.chmod(folder, 0o722);
    expect(thrownBy(() => fileOutbox({ dir })).message).toContain(`${folder} is writable by group or others (mode 722)`);

    await fs.rm(folder, { recursive: true });
    const elsewhere = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-elsewhere-'));
    try {
      await fs.symlink(elsewhere, folder);
      const error = thrownBy(() => fileOutbox({ dir }));
      expect(error).toBeInstanceOf(OptionsError);
      expect(error.message).toContain(`${folder} is not a folder (it is a symbolic link)`);
    } finally {
      await fs.rm(elsewhere, { recursive: true, force: true });
    }

    // Each refusal released the lock: a good folder opens.
    await fs.rm(folder);
    await fileOutbox({ dir }).close();
  });

  it('removes the temp files of writes that never finished at start, and keeps the jobs', async () => {
    await fileOutbox({ dir }).close();
    await plant(path.join(dir, 'pending', '.job-a.json.0123456789ab.tmp'), '{"id":"job-a","cut off');
    await plant(path.join(dir, 'failed', '.job-b.json.ba9876543210.tmp'), '');
    await plant(path.join(dir, 'pending', 'job-c.json'), JSON.stringify(jobFor('job-c', 'ltik-c', 'http://lms/li/1', 3)));
    const outbox = fileOutbox({ dir });
    try {
      expect(await fs.readdir(path.join(dir, 'pending'))).toEqual(['job-c.json']);
      expect(await fs.readdir(path.join(dir, 'failed'))).toEqual([]);
    } finally {
      await outbox.close();
    }
  });
});

describe('outbox job files', () => {
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
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-files-'));
    for (const sub of ['pending', 'failed']) await fs.mkdir(path.join(dir, sub), { mode: 0o700 });
  });
  afterEach(async () => {
    await grades?.close();
    await outbox?.close();
    grades = undefined;
    outbox = undefined;
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** Starts the tool's outbox on what was planted, as a restart would. */
  function start(logger: Logger): GradeOutbox {
    outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 50 } });
    grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, outbox, logger, retry: { retries: 0 } });
    return outbox;
  }

  const quarantined = async () => (await fs.readdir(path.join(dir, 'quarantine'))).sort();

  it('sets aside null, {}, [], a job without a draft, a file that is not JSON and a job not named after its id, one warning each, and delivers the good job', async () => {
    const student = emulator.launch({ user: { id: 'good' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const pending = path.join(dir, 'pending');
    const good = jobFor('good-job', student.ltik, student.lineItemId!, 7);
    const { draft: _draft, ...withoutDraft } = good;
    const bad: Record<string, string> = {
      'null.json': 'null',
      'empty-object.json': '{}',
      'array.json': '[]',
      'no-draft.json': JSON.stringify({ ...withoutDraft, id: 'no-draft' }),
      'not-json.json': `{"id":"not-json","draft":{"ltik":"${student.ltik}"`,
      'renamed.json': JSON.stringify({ ...good, id: 'another-id' }),
    };
    for (const [name, content] of Object.entries(bad)) await plant(path.join(pending, name), content);
    await plant(path.join(pending, 'good-job.json'), JSON.stringify(good));

    const { lines, logger } = capturedLogs();
    const box = start(logger);
    expect(await box.drain(10_000)).toBe(true);
    expect(await box.pending()).toEqual([]);
    expect(emulator.scores(student.lineItemId!, 'good').map((s) => s.scoreGiven)).toEqual([7]);
    expect(await quarantined()).toEqual(Object.keys(bad).map((name) => `pending-${name}`).sort());
    expect(await fs.readdir(pending)).toEqual([]);

    const warnings = lines.filter((line) => line.level === 'warn' && /set aside/.test(line.message));
    expect(warnings.map((line) => line.fields.file).sort()).toEqual(Object.keys(bad).map((name) => `pending/${name}`).sort());
    expect(warnings.find((line) => line.fields.file === 'pending/not-json.json')!.fields.reason).toBe('not JSON');
    expect(warnings.find((line) => line.fields.file === 'pending/renamed.json')!.fields.reason).toBe('its id is not its file name');
    expect(JSON.stringify(lines)).not.toContain(student.ltik);
  });

  it('sets aside job files planted by another user, open to others, or linked from elsewhere: the victim is never graded with the attacker\'s ltik', async () => {
    const victim = emulator.launch({ user: { id: 'victim' }, context: { id: 'attacked-course' }, lineItem: { label: 'Exam', scoreMaximum: 100 } });
    const attacker = emulator.launch({ user: { id: 'attacker' }, context: { id: 'attacked-course' }, lineItem: victim.lineItemId! });
    const classmate = emulator.launch({ user: { id: 'classmate' }, context: { id: 'attacked-course' }, lineItem: victim.lineItemId! });
    // A job that names the victim and the column itself, so no ID token is read: posted with the attacker's ltik.
    const forged = (id: string) =>
      JSON.stringify({
        id,
        createdAt: new Date().toISOString(),
        attempts: 0,
        nextAttemptAt: 0,
        draft: { ltik: attacker.ltik, userId: 'victim', scope: 'any', fixedLineItemId: victim.lineItemId, score: { ...score, scoreGiven: 100, scoreMaximum: 100 } },
      });
    const pending = path.join(dir, 'pending');
    await plant(path.join(pending, 'by-nobody.json'), forged('by-nobody'), { uid: NOBODY });
    await plant(path.join(pending, 'open-to-all.json'), forged('open-to-all'), { mode: 0o666 });
    await plant(path.join(pending, 'group-readable.json'), forged('group-readable'), { mode: 0o640 });
    const elsewhere = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-attacker-'));
    try {
      await plant(path.join(elsewhere, 'linked.json'), forged('linked'));
      await fs.symlink(path.join(elsewhere, 'linked.json'), path.join(pending, 'linked.json'));
      await plant(path.join(pending, 'classmate.json'), JSON.stringify(jobFor('classmate', classmate.ltik, victim.lineItemId!, 60)));

      const { lines, logger } = capturedLogs();
      const box = start(logger);
      expect(await box.drain(10_000)).toBe(true);
      expect(emulator.scores(victim.lineItemId!, 'victim')).toEqual([]);
      expect(emulator.scores(victim.lineItemId!, 'classmate').map((s) => s.scoreGiven)).toEqual([60]);
      expect(await quarantined()).toEqual(['pending-by-nobody.json', 'pending-group-readable.json', 'pending-linked.json', 'pending-open-to-all.json']);
      const reasons = Object.fromEntries(lines.filter((line) => line.level === 'warn').map((line) => [line.fields.file, line.fields.reason]));
      expect(reasons).toEqual({
        'pending/by-nobody.json': 'not owned by this process\'s user',
        'pending/open-to-all.json': 'readable or writable by group or others',
        'pending/group-readable.json': 'readable or writable by group or others',
        'pending/linked.json': 'not a regular file',
      });
      expect(JSON.stringify(lines)).not.toContain(attacker.ltik);
      // The link itself was moved; what it pointed to is untouched.
      expect(JSON.parse(await fs.readFile(path.join(elsewhere, 'linked.json'), 'utf8'))).toMatchObject({ id: 'linked' });
    } finally {
      await fs.rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('delivers a stored job whose draft has a field it does not know, but sets aside one whose score names a user', async () => {
    const student = emulator.launch({ user: { id: 'newer' }, context: { id: 'newer-course' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    emulator.enroll('newer-course', { id: 'someone-else' });
    const newer = jobFor('newer', student.ltik, student.lineItemId!, 6);
    await plant(path.join(dir, 'pending', 'newer.json'), JSON.stringify({ ...newer, draft: { ...newer.draft, addedByALaterVersion: true } }));
    const redirected = jobFor('redirected', student.ltik, student.lineItemId!, 10);
    await plant(path.join(dir, 'pending', 'redirected.json'), JSON.stringify({ ...redirected, draft: { ...redirected.draft, score: { ...redirected.draft.score, userId: 'someone-else' } } }));
    const { logger } = capturedLogs();
    const box = start(logger);
    expect(await box.drain(10_000)).toBe(true);
    expect(emulator.scores(student.lineItemId!).map((s) => [s.userId, s.scoreGiven])).toEqual([['newer', 6]]);
    expect(await quarantined()).toEqual(['pending-redirected.json']);
  });

  it('sets aside an unusable file in failed/ and still lists and re-queues the other refused grades', async () => {
    const student = emulator.launch({ user: { id: 'requeued' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const refused = { ...jobFor('refused', student.ltik, student.lineItemId!, 4), failedAt: new Date().toISOString(), error: { code: 'LTIAAS_REJECTED', message: 'Refused by the LMS.' } };
    await plant(path.join(dir, 'failed', 'refused.json'), JSON.stringify(refused));
    await plant(path.join(dir, 'failed', 'null.json'), 'null');
    await plant(path.join(dir, 'failed', 'pending-shaped.json'), JSON.stringify(jobFor('pending-shaped', student.ltik, student.lineItemId!, 1)));
    const { lines, logger } = capturedLogs();
    const box = start(logger);
    expect((await box.failed()).map((job) => [job.id, job.error.code])).toEqual([['refused', 'LTIAAS_REJECTED']]);
    expect(await quarantined()).toEqual(['failed-null.json', 'failed-pending-shaped.json']);
    expect(lines.filter((line) => line.level === 'warn').map((line) => line.fields.file).sort()).toEqual(['failed/null.json', 'failed/pending-shaped.json']);
    expect(await box.requeue('refused')).toBe(true);
    expect(await box.drain(10_000)).toBe(true);
    expect(emulator.scores(student.lineItemId!, 'requeued').map((s) => s.scoreGiven)).toEqual([4]);
  });
});

describe('a tool process started on a pending job file holding null', () => {
  let emulator: LtiaasEmulator;
  let dir: string;
  let tool: (ToolProcess & { port: number }) | undefined;

  beforeAll(async () => {
    emulator = await startEmulator({ apiKey: API_KEY });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-null-'));
  });
  afterAll(async () => {
    if (tool) await killed(tool.child);
    await emulator.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('keeps running, sets the file aside with one warning, and delivers the other grades', async () => {
    const student = emulator.launch({ user: { id: 'after-null' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await fs.mkdir(path.join(dir, 'pending'), { mode: 0o700 });
    await plant(path.join(dir, 'pending', 'null.json'), 'null');
    await plant(path.join(dir, 'pending', 'good.json'), JSON.stringify(jobFor('good', student.ltik, student.lineItemId!, 9)));

    tool = await startTool({ LTIAAS_URL: emulator.url, LTIAAS_API_KEY: API_KEY, OUTBOX_DIR: dir });
    await waitFor(() => tool!.output.includes('delivered after-null'), 20_000);
    expect(emulator.scores(student.lineItemId!, 'after-null').map((s) => s.scoreGiven)).toEqual([9]);
    expect(await fs.readdir(path.join(dir, 'quarantine'))).toEqual(['pending-null.json']);
    expect(tool.output.filter((line) => line.startsWith('warn ') && line.includes('pending/null.json'))).toHaveLength(1);
    // Still serving: the start-up did not crash it.
    expect(tool.child.exitCode).toBeNull();
    const res = await fetch(`http://127.0.0.1:${tool.port}/finish`, { method: 'POST' });
    expect(res.status).toBe(401);
  });
});
