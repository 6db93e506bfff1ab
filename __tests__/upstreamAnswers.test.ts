// LTIAAS answers 2xx with a body the package cannot use: a bad gateway naming endpoint and field, never a success.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { fileOutbox, type GradeOutbox } from 'express-ltiaas-grades';
import { API_KEY, EXPRESS_VERSIONS, quizApp } from './helpers/harness';
import { editJson, startMisbehavingLtiaas, type MisbehavingLtiaas } from './helpers/misbehavingLtiaas';

type Json = any;

/** Corruptions of a real `GET /api/lineitems` page that lists the quiz's column first. */
const brokenLists: Array<[string, (body: Json) => Json, string]> = [
  ['a listed column without an id', (body) => ({ ...body, lineItems: body.lineItems.map(({ id: _id, ...rest }: Json) => rest) }), 'lineItems[0].id'],
  ['a column whose id is a number', (body) => ({ ...body, lineItems: body.lineItems.map((item: Json) => ({ ...item, id: 7 })) }), 'lineItems[0].id'],
  ['null among the columns', (body) => ({ ...body, lineItems: [...body.lineItems, null] }), 'lineItems[1]'],
  ['a column that is not an object', (body) => ({ ...body, lineItems: [...body.lineItems, 'quiz-1'] }), 'lineItems[1]'],
  ['a column without scoreMaximum', (body) => ({ ...body, lineItems: body.lineItems.map(({ scoreMaximum: _max, ...rest }: Json) => rest) }), 'lineItems[0].scoreMaximum'],
  ['no lineItems list', () => ({ items: [] }), 'lineItems'],
];

/** Corruptions of a real `GET /api/idtoken` answer, with the route that grades through it. */
const brokenTokens: Array<[string, (body: Json) => Json, string]> = [
  ['a platform without an id', (body) => ({ ...body, platform: { ...body.platform, id: undefined } }), 'platform.id'],
  ['availability as the string "true"', (body) => ({ ...body, services: { ...body.services, assignmentAndGrades: { ...body.services.assignmentAndGrades, available: 'true' } } }), 'services.assignmentAndGrades.available'],
  ['no services block', ({ services: _services, ...rest }) => rest, 'services'],
  ['a user id that is a number', (body) => ({ ...body, user: { ...body.user, id: 42 } }), 'user.id'],
  ['a coupled line item id that is a number', (body) => ({ ...body, services: { ...body.services, assignmentAndGrades: { ...body.services.assignmentAndGrades, lineItemId: 7 } } }), 'services.assignmentAndGrades.lineItemId'],
];

describe.each(EXPRESS_VERSIONS)('malformed LTIAAS answers on %s', (_name, expressLib) => {
  let ltiaas: MisbehavingLtiaas;
  beforeEach(async () => {
    ltiaas = await startMisbehavingLtiaas();
  });
  afterEach(() => ltiaas.close());

  const scorePosts = () => ltiaas.emulator.countRequests({ method: 'POST', path: /\/scores$/ });

  it.each(brokenLists)('answers 502 LTIAAS_UNAVAILABLE naming the field, and posts no score, for %s', async (_what, corrupt, field) => {
    const launch = ltiaas.emulator.launch({ user: { id: 'ada' } });
    const column = ltiaas.emulator.addLineItem(launch.contextId, { label: 'Quiz 1', scoreMaximum: 3, resourceId: 'quiz-1' });
    ltiaas.rewrite({ method: 'GET', path: '/api/lineitems', rewrite: editJson(corrupt) });
    const res = await request(quizApp(expressLib, ltiaas.grades)).post(`/quiz/1/finish?ltik=${launch.ltik}`).send({ answers: ['b'] });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('LTIAAS_UNAVAILABLE');
    expect(res.body.error.message).toContain('GET /api/lineitems');
    expect(res.body.error.message).toContain(`${field} `);
    expect(res.body.error.message).not.toContain(launch.ltik);
    expect(res.body.error.message).not.toContain(API_KEY);
    expect(scorePosts()).toBe(0);
    expect(ltiaas.emulator.scores(column.id)).toEqual([]);
    expect(ltiaas.emulator.lineItems({ contextId: launch.contextId })).toHaveLength(1);
  });

  it.each(brokenTokens)('answers 502 LTIAAS_UNAVAILABLE naming the field, and posts no score, for an ID token with %s', async (_what, corrupt, field) => {
    const launch = ltiaas.emulator.launch({ user: { id: 'ada' }, lineItem: { label: 'Lab', scoreMaximum: 5 } });
    ltiaas.rewrite({ method: 'GET', path: '/api/idtoken', rewrite: editJson(corrupt) });
    const res = await request(quizApp(expressLib, ltiaas.grades)).post(`/activity/finish?ltik=${launch.ltik}`);
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('LTIAAS_UNAVAILABLE');
    expect(res.body.error.message).toContain('GET /api/idtoken');
    expect(res.body.error.message).toContain(`${field} `);
    expect(res.body.error.message).not.toContain(launch.ltik);
    expect(scorePosts()).toBe(0);
  });
});

describe('malformed LTIAAS answers with an outbox', () => {
  let ltiaas: MisbehavingLtiaas;
  let dir: string;
  let outbox: GradeOutbox;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'upstream-answers-'));
    outbox = fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 100 } });
    ltiaas = await startMisbehavingLtiaas({ outbox });
  });
  afterEach(async () => {
    await ltiaas.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('holds a grade whose column list came back without ids, then delivers it to the right column once the answers are whole', async () => {
    const launch = ltiaas.emulator.launch({ user: { id: 'ada' } });
    const column = ltiaas.emulator.addLineItem(launch.contextId, { label: 'Quiz 1', scoreMaximum: 3, resourceId: 'quiz-1' });
    ltiaas.rewrite({ method: 'GET', path: '/api/lineitems', rewrite: editJson((body) => ({ ...body, lineItems: body.lineItems.map(({ id: _id, ...rest }: Json) => rest) })) });
    const outcome = await ltiaas.grades.forLaunch(launch.ltik).submit({ scoreGiven: 2, scoreMaximum: 3 }, { lineItem: { resourceId: 'quiz-1', label: 'Quiz 1', scoreMaximum: 3 } });
    expect(outcome.status).toBe('queued');
    const [held] = await outbox.pending();
    expect(held!.lastError).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', upstreamStatus: 200, message: expect.stringContaining('lineItems[0].id') });
    expect(ltiaas.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(0);

    ltiaas.clearRules();
    expect(await outbox.drain(10_000)).toBe(true);
    expect(ltiaas.emulator.scores(column.id).map((score) => [score.userId, score.scoreGiven])).toEqual([['ada', 2]]);
    expect(ltiaas.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(1);
    expect(await outbox.failed()).toEqual([]);
  });
});

describe('malformed answers to direct calls', () => {
  let ltiaas: MisbehavingLtiaas;
  beforeEach(async () => {
    ltiaas = await startMisbehavingLtiaas();
  });
  afterEach(() => ltiaas.close());

  it('refuses a column read back without a label as a retryable LTIAAS_UNAVAILABLE', async () => {
    const launch = ltiaas.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 5 } });
    ltiaas.rewrite({ method: 'GET', path: /^\/api\/lineitems\/[^/]+$/, rewrite: editJson(({ label: _label, ...rest }) => rest) });
    const error = await ltiaas.grades.forLaunch(launch.ltik).lineItems.get(launch.lineItemId!).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', status: 502, retryable: true, upstream: { method: 'GET', endpoint: '/api/lineitems/:lineItemId', status: 200 } });
    expect((error as Error).message).toContain('label is missing');
  });

  it.each([
    ['a blank id', { id: '   ', label: 'Lab (renamed)', scoreMaximum: 5 }],
    ['an id that is a number', { id: 7, label: 'Lab (renamed)', scoreMaximum: 5 }],
    ['no body', ''],
  ])('gives back the updated column under its own id when the update is answered with %s', async (_what, answer) => {
    const launch = ltiaas.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 5 } });
    ltiaas.rewrite({ method: 'PUT', path: /^\/api\/lineitems\/[^/]+$/, rewrite: () => ({ status: 200, body: typeof answer === 'string' ? answer : JSON.stringify(answer) }) });
    const updated = await ltiaas.grades.forLaunch(launch.ltik).lineItems.update(launch.lineItemId!, { label: 'Lab (renamed)', scoreMaximum: 5 });
    expect(updated).toMatchObject({ id: launch.lineItemId, label: 'Lab (renamed)', scoreMaximum: 5 });
  });

  it('refuses a results page holding null as a retryable LTIAAS_UNAVAILABLE', async () => {
    const launch = ltiaas.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 5 } });
    const grades = ltiaas.grades.forLaunch(launch.ltik);
    await grades.submit({ scoreGiven: 4, scoreMaximum: 5 });
    ltiaas.rewrite({ method: 'GET', path: /\/scores$/, rewrite: editJson((body) => ({ ...body, scores: [...body.scores, null] })) });
    const error = await grades.scores(launch.lineItemId!).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', retryable: true, upstream: { endpoint: '/api/lineitems/:lineItemId/scores' } });
    expect((error as Error).message).toContain('scores[1] is not an object');
  });

  it('refuses an ID token that is not JSON, saying so without quoting it', async () => {
    const launch = ltiaas.emulator.launch();
    ltiaas.rewrite({ method: 'GET', path: '/api/idtoken', rewrite: () => ({ status: 200, body: `<html>${launch.ltik}</html>` }) });
    const error = await ltiaas.grades.forLaunch(launch.ltik).idToken().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'LTIAAS_UNAVAILABLE', retryable: true });
    expect((error as Error).message).toContain('GET /api/idtoken with 200');
    expect((error as Error).message).toContain('its body is not JSON');
    expect(JSON.stringify(error)).not.toContain(launch.ltik);
  });
});
