// fileOutbox({ encryptionKey }): job files hold the job sealed (AES-256-GCM, bound to the job's id), read back only with that key; the key's rule is checked at start.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileOutbox, ltiaasGrades, type Logger } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { JobCipher } from '../src/outbox/jobCipher';
import { API_KEY } from './helpers/harness';

const KEY = 'file-outbox-key-0123456789-abcdefghijklmnop';
const OTHER_KEY = 'another-key-of-a-kind-0123456789-abcdefghij';

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

let emulator: LtiaasEmulator;
let dir: string;

beforeEach(async () => {
  emulator = await startEmulator({ apiKey: API_KEY });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'outbox-encrypted-'));
});

afterEach(async () => {
  await emulator.close();
  await fs.rm(dir, { recursive: true, force: true });
});

/** Queues one grade while score POSTs fail, and closes the instance with the grade still pending. */
async function queueOneGrade(encryptionKey?: string, userId = 'student-e71a') {
  const launch = emulator.launch({ user: { id: userId }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
  const outbox = fileOutbox({ dir, ...(encryptionKey ? { encryptionKey } : {}) });
  const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, outbox, retry: { retries: 0 } });
  await grades.forLaunch(launch.ltik).idToken();
  emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
  const outcome = (await grades.forLaunch(launch.ltik).submit({ scoreGiven: 6.8125, scoreMaximum: 10 })) as { status: string; id: string };
  expect(outcome.status).toBe('queued');
  await grades.close();
  emulator.clearFaults();
  return { launch, id: outcome.id };
}

async function restart(encryptionKey?: string) {
  const { lines, logger } = capturedLogs();
  const outbox = fileOutbox({ dir, ...(encryptionKey ? { encryptionKey } : {}) });
  const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, outbox, retry: { retries: 0 }, logger });
  return { outbox, grades, lines };
}

describe('fileOutbox with an encryptionKey', () => {
  it('writes the job sealed, with no ltik, service key, user id or score in the file, and delivers it after a restart with the same key', async () => {
    const { launch, id } = await queueOneGrade(KEY);
    const text = await fs.readFile(path.join(dir, 'pending', `${id}.json`), 'utf8');
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['sealed']);
    for (const secret of [launch.ltik, launch.serviceKey!, 'student-e71a', '6.8125', KEY]) expect([secret, text.includes(secret)]).toEqual([secret, false]);
    // The file's content opens with the key, under the job's own id.
    expect(new JobCipher(KEY).open((JSON.parse(text) as { sealed: string }).sealed, id)).toMatchObject({ id, grade: { ltik: launch.ltik, userId: 'student-e71a' } });

    const { outbox, grades } = await restart(KEY);
    expect(await outbox.drain(10_000)).toBe(true);
    expect(emulator.scores(launch.lineItemId!, 'student-e71a').map((score) => score.scoreGiven)).toEqual([6.8125]);
    await grades.close();
  });

  it('seals dead-letter files too, and lists them with the LMS message', async () => {
    const launch = emulator.launch({ user: { id: 'refused-e71a' }, lineItem: { label: 'Lab', scoreMaximum: 10 }, gradable: false });
    const outbox = fileOutbox({ dir, encryptionKey: KEY });
    const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, outbox, retry: { retries: 0 } });
    emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    const { id } = (await grades.forLaunch(launch.ltik).submit({ scoreGiven: 3, scoreMaximum: 10 })) as { id: string };
    expect(await outbox.drain(10_000)).toBe(true);
    expect(await outbox.failed()).toEqual([expect.objectContaining({ id, userId: 'refused-e71a', error: expect.objectContaining({ lmsMessage: 'Incorrect score received' }) })]);
    const text = await fs.readFile(path.join(dir, 'failed', `${id}.json`), 'utf8');
    for (const secret of [launch.ltik, 'refused-e71a', 'Incorrect score received']) expect(text).not.toContain(secret);
    await grades.close();
  });

  it('sets aside, without delivering, a sealed file opened with another key, and one moved to another job\'s name', async () => {
    const { launch, id } = await queueOneGrade(KEY);
    await fs.copyFile(path.join(dir, 'pending', `${id}.json`), path.join(dir, 'pending', 'renamed-job.json'));
    const { outbox, grades, lines } = await restart(OTHER_KEY);
    expect(await outbox.drain(10_000)).toBe(true);
    expect(emulator.scores(launch.lineItemId!)).toEqual([]);
    expect((await fs.readdir(path.join(dir, 'quarantine'))).sort()).toEqual([`pending-${id}.json`, 'pending-renamed-job.json']);
    expect(lines.filter((line) => line.level === 'warn').map((line) => line.fields.reason)).toEqual([
      'cannot be decrypted with this encryptionKey (another key, another file name, or altered)',
      'cannot be decrypted with this encryptionKey (another key, another file name, or altered)',
    ]);
    await grades.close();

    // With the right key, the renamed copy still cannot open: the job's id is part of what was sealed.
    await fs.rename(path.join(dir, 'quarantine', 'pending-renamed-job.json'), path.join(dir, 'pending', 'renamed-job.json'));
    const right = await restart(KEY);
    expect(await right.outbox.drain(10_000)).toBe(true);
    expect(emulator.scores(launch.lineItemId!)).toEqual([]);
    expect(right.lines.map((line) => line.fields.reason)).toContain('cannot be decrypted with this encryptionKey (another key, another file name, or altered)');
    await right.grades.close();
  });

  it('reads a folder only with the setting it was written with: sealed files without a key, plain files with one, are set aside', async () => {
    const sealed = await queueOneGrade(KEY);
    const withoutKey = await restart();
    expect(await withoutKey.outbox.drain(10_000)).toBe(true);
    expect(withoutKey.lines.map((line) => line.fields.reason)).toEqual(['encrypted: start the outbox with the encryptionKey it was written with, then move it back']);
    await withoutKey.grades.close();
    expect(emulator.scores(sealed.launch.lineItemId!)).toEqual([]);
    // Moved back, and read with its key, it is delivered.
    await fs.rename(path.join(dir, 'quarantine', `pending-${sealed.id}.json`), path.join(dir, 'pending', `${sealed.id}.json`));
    const withKey = await restart(KEY);
    expect(await withKey.outbox.drain(10_000)).toBe(true);
    expect(emulator.scores(sealed.launch.lineItemId!)).toHaveLength(1);
    await withKey.grades.close();

    const plain = await queueOneGrade(undefined, 'plain-e71a');
    const keyed = await restart(KEY);
    expect(await keyed.outbox.drain(10_000)).toBe(true);
    expect(keyed.lines.map((line) => line.fields.reason)).toEqual(['not encrypted, and this outbox has an encryptionKey (deliver it by starting once without the key)']);
    expect(emulator.scores(plain.launch.lineItemId!, 'plain-e71a')).toEqual([]);
    await keyed.grades.close();
  });

  it('refuses an empty, short or non-string encryptionKey at start with OPTIONS_INVALID, never quoting it', () => {
    for (const encryptionKey of ['', 'short-key-0123456789', 12345678901234567890123456789012345]) {
      const error = thrownBy(() => fileOutbox({ dir, encryptionKey } as never));
      expect(error).toMatchObject({ code: 'OPTIONS_INVALID' });
      expect(error.message).toContain('encryptionKey');
      expect(error.message).toContain('openssl rand -base64 32');
      expect(error.message).not.toContain(String(encryptionKey) || '\u0000');
    }
  });
});
