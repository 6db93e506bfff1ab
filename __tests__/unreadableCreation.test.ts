// A 201 for a new column whose body cannot be read: search before creating again, and at most one further creation.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { fileOutbox, type GradeOutbox } from 'express-ltiaas-grades';
import { EXPRESS_VERSIONS, quizApp } from './helpers/harness';
import { editJson, startMisbehavingLtiaas, type MisbehavingLtiaas } from './helpers/misbehavingLtiaas';

const QUIZ = { resourceId: 'quiz-1', label: 'Quiz 1', scoreMaximum: 3 };

/** Resolves once `condition` holds: state is polled, no fixed sleep stands in for a timer. */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** LTIAAS acts on every creation but answers it with an empty 201, and no listing shows the new columns. */
function hideCreatedColumns(ltiaas: MisbehavingLtiaas): void {
  ltiaas.rewrite({ method: 'POST', path: '/api/lineitems', rewrite: () => ({ status: 201, body: '' }) });
  ltiaas.rewrite({ method: 'GET', path: '/api/lineitems', rewrite: editJson((body) => ({ ...body, lineItems: [] })) });
}

describe.each(EXPRESS_VERSIONS)('unreadable answers to a column creation on %s', (_name, expressLib) => {
  let ltiaas: MisbehavingLtiaas;
  beforeEach(async () => {
    ltiaas = await startMisbehavingLtiaas();
  });
  afterEach(() => ltiaas.close());

  const creations = () => ltiaas.emulator.countRequests({ method: 'POST', path: '/api/lineitems' });

  it.each([
    ['an empty body', ''],
    ['a body cut short', '{"id":"https://lms.example.com/line'],
    ['a body without an id', '{"label":"Quiz 1"}'],
  ])('finds the column a 201 with %s created, and posts the score to it: one column', async (_what, body) => {
    const launch = ltiaas.emulator.launch({ user: { id: 'ada' } });
    ltiaas.rewrite({ method: 'POST', path: '/api/lineitems', times: 1, rewrite: () => ({ status: 201, body }) });
    const res = await request(quizApp(expressLib, ltiaas.grades)).post(`/quiz/1/finish?ltik=${launch.ltik}`).send({ answers: ['b', 'b'] });
    expect(res.status).toBe(200);
    const columns = ltiaas.emulator.lineItems({ contextId: launch.contextId });
    expect(columns).toHaveLength(1);
    expect(res.body).toMatchObject({ status: 'submitted', lineItemId: columns[0]!.id });
    expect(ltiaas.emulator.scores(columns[0]!.id).map((score) => [score.userId, score.scoreGiven])).toEqual([['ada', 2]]);
    expect(creations()).toBe(1);
  });

  it('without an outbox, creates at most twice while 201s stay unreadable and the column stays unlisted, then answers LTIAAS_UNAVAILABLE', async () => {
    const launch = ltiaas.emulator.launch({ user: { id: 'ada' } });
    hideCreatedColumns(ltiaas);
    const app = quizApp(expressLib, ltiaas.grades);
    for (let submission = 0; submission < 3; submission++) {
      const res = await request(app).post(`/quiz/1/finish?ltik=${launch.ltik}`).send({ answers: ['b'] });
      expect(res.status).toBe(502);
      expect(res.body.error.code).toBe('LTIAAS_UNAVAILABLE');
    }
    expect(creations()).toBe(2);
    expect(ltiaas.emulator.lineItems({ contextId: launch.contextId })).toHaveLength(2);
    expect(ltiaas.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(0);
  });
});

describe('unreadable answers to a column creation with an outbox', () => {
  let ltiaas: MisbehavingLtiaas;
  let dir: string;
  let outbox: GradeOutbox;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'unreadable-creation-'));
    outbox = fileOutbox({ dir, retry: { minDelayMs: 10, maxDelayMs: 40 } });
    ltiaas = await startMisbehavingLtiaas({ outbox });
  });
  afterEach(async () => {
    await ltiaas.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('makes at most two creations over many outbox rounds, holds the grade meanwhile, and delivers it once the column is listed', async () => {
    const launch = ltiaas.emulator.launch({ user: { id: 'ada' } });
    hideCreatedColumns(ltiaas);
    const outcome = await ltiaas.grades.forLaunch(launch.ltik).submit({ scoreGiven: 3, scoreMaximum: 3 }, { lineItem: QUIZ });
    expect(outcome.status).toBe('queued');
    // Every round starts with a search: ten searches are several rounds.
    await until(() => ltiaas.emulator.countRequests({ method: 'GET', path: '/api/lineitems' }) >= 10);
    expect(ltiaas.emulator.countRequests({ method: 'POST', path: '/api/lineitems' })).toBe(2);
    expect(ltiaas.emulator.lineItems({ contextId: launch.contextId })).toHaveLength(2);
    const [held] = await outbox.pending();
    expect(held!.lastError).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', message: expect.stringContaining('no further column is created') });
    expect(await outbox.failed()).toEqual([]);

    ltiaas.clearRules();
    expect(await outbox.drain(10_000)).toBe(true);
    const [first] = ltiaas.emulator.lineItems({ contextId: launch.contextId });
    expect(ltiaas.emulator.scores(first!.id).map((score) => [score.userId, score.scoreGiven])).toEqual([['ada', 3]]);
    expect(ltiaas.emulator.countRequests({ method: 'POST', path: '/api/lineitems' })).toBe(2);
  });
});

describe('an unreadable answer to lineItems.create()', () => {
  let ltiaas: MisbehavingLtiaas;
  beforeEach(async () => {
    ltiaas = await startMisbehavingLtiaas();
  });
  afterEach(() => ltiaas.close());

  it('is LTIAAS_UNAVAILABLE, not retryable: the column may exist, so the caller must look before creating again', async () => {
    const launch = ltiaas.emulator.launch();
    ltiaas.rewrite({ method: 'POST', path: '/api/lineitems', rewrite: () => ({ status: 201, body: '' }) });
    const error = await ltiaas.grades.forLaunch(launch.ltik).lineItems.create({ label: 'Quiz 1', scoreMaximum: 3, resourceId: 'quiz-1' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', status: 502, retryable: false, upstream: { method: 'POST', endpoint: '/api/lineitems', status: 201 } });
    expect((error as Error).message).toContain('POST /api/lineitems with 201');
    expect((error as Error).message).toContain('its body is empty');
    expect((error as Error).message).toContain('look before repeating');
    expect(ltiaas.emulator.lineItems({ contextId: launch.contextId })).toHaveLength(1);
  });
});
