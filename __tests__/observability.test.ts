// Logging and events: pino or console accepted, every event carries what it should, and no secret is ever logged.
import { Writable } from 'node:stream';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import pino from 'pino';
import { fileOutbox, ltiaasGrades, type GradeEventMap } from 'express-ltiaas-grades';
import { API_KEY, startHarness, type Harness } from './helpers/harness';

/** A real pino logger at the lowest level, writing every line into memory. */
function capturedPino() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: pino({ level: 'trace' }, sink) };
}

describe('logging and events', () => {
  let harness: Harness | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
    // Only ever a folder this test made with mkdtemp.
    if (dir) await fs.rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('accepts console and pino, and needs no logger at all', () => {
    expect(() => ltiaasGrades({ ltiaasUrl: 'http://127.0.0.1:1', apiKey: API_KEY, logger: console })).not.toThrow();
    expect(() => ltiaasGrades({ ltiaasUrl: 'http://127.0.0.1:1', apiKey: API_KEY, logger: pino({ enabled: false }) })).not.toThrow();
    expect(() => ltiaasGrades({ ltiaasUrl: 'http://127.0.0.1:1', apiKey: API_KEY })).not.toThrow();
  });

  it('reports submitted, retry, queued and rejected with line item, user, status and timing, and logs no secret', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'observe-'));
    const { lines, logger } = capturedPino();
    const outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 50 } });
    const h = await startHarness({ logger, outbox, timeoutMs: 300, retry: { retries: 1, minDelayMs: 5, maxDelayMs: 20 } });
    harness = h;
    const events: { [E in keyof GradeEventMap]: GradeEventMap[E][] } = { submitted: [], queued: [], retry: [], rejected: [] };
    for (const name of Object.keys(events) as Array<keyof GradeEventMap>) {
      h.grades.on(name, (payload: GradeEventMap[keyof GradeEventMap]) => {
        (events[name] as unknown[]).push(payload);
      });
    }
    const student = h.emulator.launch({ user: { id: 'observed' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const teacher = h.emulator.launch({ user: { id: 'teacher' }, role: 'instructor', lineItem: student.lineItemId! });
    const { emulator } = harness;

    // submitted after one retry
    emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
    await h.grades.forLaunch(student.ltik).submit({ scoreGiven: 6, scoreMaximum: 10 });
    // queued (every attempt fails), then delivered by the outbox
    emulator.fail({ method: 'POST', path: /\/scores$/, status: 502, times: 2 });
    await h.grades.forLaunch(student.ltik).submit({ scoreGiven: 7, scoreMaximum: 10 });
    expect(await outbox.drain(10_000)).toBe(true);
    // rejected by the LMS
    await h.grades.forLaunch(teacher.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 }).catch(() => undefined);
    // a batch with the service key
    await h.grades.withServiceKey(student.serviceKey!).submitMany([{ userId: 'observed', scoreGiven: 8, scoreMaximum: 10 }], { lineItem: student.lineItemId! });

    expect(events.submitted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ status: 'submitted', lineItemId: student.lineItemId, userId: 'observed', scoreGiven: 6, durationMs: expect.any(Number), fromOutbox: false }),
        expect.objectContaining({ status: 'submitted', lineItemId: student.lineItemId, userId: 'observed', scoreGiven: 7, fromOutbox: true }),
      ]),
    );
    expect(events.retry).toEqual(
      expect.arrayContaining([expect.objectContaining({ status: 503, lineItemId: student.lineItemId, userId: 'observed', attempt: 1, delayMs: expect.any(Number) })]),
    );
    expect(events.queued).toEqual([
      expect.objectContaining({ status: 'queued', id: expect.any(String), lineItemId: student.lineItemId, userId: 'observed', code: 'LTIAAS_UNAVAILABLE', upstreamStatus: 502, durationMs: expect.any(Number) }),
    ]);
    expect(events.rejected).toEqual([
      expect.objectContaining({ status: 'rejected', lineItemId: student.lineItemId, userId: 'teacher', code: 'LTIAAS_REJECTED', upstreamStatus: 422, durationMs: expect.any(Number) }),
    ]);

    const everything = [...lines, inspect(events, { depth: Infinity }), JSON.stringify(events)].join('\n');
    expect(lines.length).toBeGreaterThan(10);
    expect(everything).toContain('observed');
    for (const secret of [API_KEY, student.ltik, teacher.ltik, student.serviceKey!]) expect(everything).not.toContain(secret);
    expect(everything).not.toMatch(/(LTIK-AUTH-V2|SERVICE-AUTH-V1) \S/);
  });

  it('survives a listener that throws, and reports it to the logger', async () => {
    const { lines, logger } = capturedPino();
    const h = await startHarness({ logger });
    harness = h;
    const launch = h.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 } });
    h.grades.on('submitted', () => {
      throw new Error('listener bug');
    });
    await expect(h.grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).resolves.toMatchObject({ status: 'submitted' });
    expect(lines.join('')).toContain('listener bug');
  });
});
