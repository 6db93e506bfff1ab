// submitGrade end to end over loopback HTTP: the pattern, the rules, and every error code, on Express 4 and 5.
import request from 'supertest';
import { EXPRESS_VERSIONS, quizApp, startHarness, type Harness, expectNoLtiaasCalls } from './helpers/harness';

describe.each(EXPRESS_VERSIONS)('submitGrade on %s', (_name, expressLib) => {
  let harness: Harness;
  let app: ReturnType<typeof quizApp>;

  beforeEach(async () => {
    harness = await startHarness({ timeoutMs: 400 });
    app = quizApp(expressLib, harness.grades);
  });
  afterEach(() => harness.close());

  it('finds or creates the column, posts the server\'s score for the launch\'s user, answers 200', async () => {
    const launch = harness.emulator.launch({ user: { id: 'student-1' }, context: { id: 'course-a' }, resourceLink: { id: 'link-1' } });
    const res = await request(app).post(`/quiz/7/finish?ltik=${launch.ltik}`).send({ answers: ['b', 'a', 'b'] });
    expect(res.status).toBe(200);
    const [column] = harness.emulator.lineItems({ contextId: 'course-a' });
    expect(column).toMatchObject({ label: 'Quiz 7', scoreMaximum: 3, resourceId: 'quiz-7', resourceLinkId: 'link-1' });
    expect(res.body).toEqual({ status: 'submitted', lineItemId: column!.id, userId: 'student-1', scoreGiven: 2, scoreMaximum: 3 });
    const [score] = harness.emulator.scores(column!.id, 'student-1');
    expect(score).toMatchObject({
      userId: 'student-1',
      scoreGiven: 2,
      scoreMaximum: 3,
      comment: 'Auto-graded',
      activityProgress: 'Completed',
      gradingProgress: 'FullyGraded',
    });
    expect(score!.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('ignores a forged body: whose grade, which column and what score stay the server\'s', async () => {
    const victim = harness.emulator.launch({ user: { id: 'victim' }, context: { id: 'course-a' } });
    const other = harness.emulator.addLineItem('course-a', { label: 'Final exam', scoreMaximum: 100, resourceId: 'final' });
    const attacker = harness.emulator.launch({ user: { id: 'attacker' }, context: { id: 'course-a' } });
    const forged = {
      answers: ['a'],
      userId: victim.userId,
      user: { id: victim.userId },
      scoreGiven: 100,
      scoreMaximum: 100,
      score: 100,
      lineItemId: other.id,
      lineItem: { resourceId: 'final', label: 'Final exam', scoreMaximum: 100 },
      resourceId: 'final',
      timestamp: '2999-01-01T00:00:00.000Z',
    };
    const res = await request(app).post(`/quiz/1/finish?ltik=${attacker.ltik}`).send(forged);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ userId: 'attacker', scoreGiven: 0, scoreMaximum: 3 });
    expect(harness.emulator.scores(other.id)).toEqual([]);
    const quiz = harness.emulator.lineItems({ contextId: 'course-a' }).find((item) => item.resourceId === 'quiz-1')!;
    expect(harness.emulator.scores(quiz.id).map((s) => [s.userId, s.scoreGiven])).toEqual([['attacker', 0]]);
    expect(harness.emulator.scores(quiz.id, 'victim')).toEqual([]);
    expect(Date.parse(harness.emulator.scores(quiz.id)[0]!.timestamp as string)).toBeLessThan(Date.parse('2100-01-01'));
  });

  it('posts a score of 0 and extra credit above the maximum', async () => {
    const launch = harness.emulator.launch({ user: { id: 's0' }, context: { id: 'c0' }, lineItem: { label: 'Lab', scoreMaximum: 5 } });
    const res = await request(app).post('/activity/finish').send({ ltik: launch.ltik });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ scoreGiven: 0, scoreMaximum: 5 });
    expect(harness.emulator.scores(launch.lineItemId!, 's0')[0]).toMatchObject({ scoreGiven: 0, scoreMaximum: 5 });

    const extra = await harness.grades.forLaunch(launch.ltik).submitScore(launch.lineItemId!, { scoreGiven: 6.5, scoreMaximum: 5 });
    expect(extra).toMatchObject({ scoreGiven: 6.5 });
    expect(harness.emulator.scores(launch.lineItemId!, 's0').map((s) => s.scoreGiven)).toEqual([0, 6.5]);
  });

  it('uses the launch\'s own line item when no spec is given', async () => {
    const launch = harness.emulator.launch({ context: { id: 'c1' }, lineItem: { label: 'Coupled', scoreMaximum: 5 } });
    const res = await request(app).post('/activity/finish').set('Authorization', `Bearer ${launch.ltik}`);
    expect(res.status).toBe(200);
    expect(res.body.lineItemId).toBe(launch.lineItemId);
    expect(harness.emulator.countRequests({ method: 'GET', path: /^\/api\/lineitems$/ })).toBe(0);
    expect(harness.emulator.countRequests({ method: 'POST', path: /^\/api\/lineitems$/ })).toBe(0);
  });

  it('LTIK_MISSING: 401 and no LTIAAS call', async () => {
    const res = await request(app).post('/quiz/1/finish').send({ answers: ['b'] });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'LTIK_MISSING', message: expect.stringMatching(/No ltik/) } });
    await expectNoLtiaasCalls(harness.emulator);
  });

  it('LTIK_INVALID: 401 when LTIAAS refuses the ltik', async () => {
    const launch = harness.emulator.launch({ expired: true });
    const res = await request(app).post(`/quiz/1/finish?ltik=${launch.ltik}`).send({ answers: [] });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('LTIK_INVALID');
    expect(res.body.error.message).toMatch(/invalid or expired/);
  });

  it('SCORE_INVALID: 400 and nothing sent', async () => {
    const launch = harness.emulator.launch({ lineItem: { label: 'L', scoreMaximum: 1 } });
    const bad = expressLib();
    bad.use(harness.grades.middleware());
    bad.post('/finish', harness.grades.submitGrade({ score: () => ({ scoreGiven: -1, scoreMaximum: 10 }) }));
    bad.use(harness.grades.errorHandler());
    const res = await request(bad).post(`/finish?ltik=${launch.ltik}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'SCORE_INVALID', message: expect.stringMatching(/scoreGiven.*greater than or equal to 0/) });
    await expectNoLtiaasCalls(harness.emulator);
  });

  it('GRADES_UNAVAILABLE: 403, and no line item or score call', async () => {
    const launch = harness.emulator.launch({ grades: false });
    const res = await request(app).post(`/quiz/1/finish?ltik=${launch.ltik}`).send({ answers: ['b'] });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('GRADES_UNAVAILABLE');
    expect(harness.emulator.countRequests({ path: /^\/api\/lineitems/ })).toBe(0);
  });

  it('LINE_ITEM_UNAVAILABLE: no spec and the launch has no line item, nothing posted', async () => {
    const launch = harness.emulator.launch({ lineItem: null });
    const res = await request(app).post(`/activity/finish?ltik=${launch.ltik}`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('LINE_ITEM_UNAVAILABLE');
    expect(res.body.error.message).toMatch(/pass a lineItem spec/);
    expect(harness.emulator.countRequests({ path: /^\/api\/lineitems/ })).toBe(0);
  });

  it('LTIAAS_REJECTED: carries the LMS\'s own message (an instructor cannot be graded)', async () => {
    const launch = harness.emulator.launch({ role: 'instructor' });
    const res = await request(app).post(`/quiz/1/finish?ltik=${launch.ltik}`).send({ answers: ['b'] });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('LTIAAS_REJECTED');
    expect(res.body.error.message).toContain('Incorrect score received');
  });

  it.each([
    ['a 503', { status: 503 }, 503],
    ['a 500', { status: 500 }, 502],
    ['a 429', { status: 429, headers: { 'Retry-After': '120' } }, 503],
    ['a dropped connection', { drop: true }, 503],
    ['a hung upstream', { hang: true }, 504],
  ])('LTIAAS_UNAVAILABLE on %s', async (_what, fault, status) => {
    const launch = harness.emulator.launch({ lineItem: { label: 'L', scoreMaximum: 5 } });
    harness.emulator.fail({ ...fault, method: 'POST', path: /\/scores$/, times: Infinity });
    const res = await request(app).post(`/activity/finish?ltik=${launch.ltik}`);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe('LTIAAS_UNAVAILABLE');
    expect(res.body.error.message).toMatch(/try again later/);
  });

  it('passes LTIAAS\'s Retry-After on to the browser with LTIAAS_UNAVAILABLE', async () => {
    const launch = harness.emulator.launch({ lineItem: { label: 'L', scoreMaximum: 5 } });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 429, headers: { 'Retry-After': '120' }, times: Infinity });
    const res = await request(app).post(`/activity/finish?ltik=${launch.ltik}`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('120');
  });

  it('LTIAAS_UNAVAILABLE when LTIAAS cannot be reached at all', async () => {
    const launch = harness.emulator.launch({ lineItem: { label: 'L', scoreMaximum: 5 } });
    await harness.emulator.unreachable();
    const res = await request(app).post(`/activity/finish?ltik=${launch.ltik}`);
    expect(res.status).toBe(503);
    expect(res.body.error).toEqual({ code: 'LTIAAS_UNAVAILABLE', message: expect.stringMatching(/Could not reach LTIAAS for GET \/api\/idtoken \(ECONNREFUSED\)/) });
    await harness.emulator.reachable();
  });

  it('lets the app take over the response', async () => {
    const launch = harness.emulator.launch({ lineItem: { label: 'L', scoreMaximum: 5 } });
    const custom = expressLib();
    custom.use(harness.grades.middleware());
    custom.post(
      '/finish',
      harness.grades.submitGrade({
        score: async () => ({ scoreGiven: 4, scoreMaximum: 5 }),
        respond: (_req, res, outcome) => {
          res.status(303).location(`/done?status=${outcome.status}`).end();
        },
      }),
    );
    const res = await request(custom).post(`/finish?ltik=${launch.ltik}`);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/done?status=submitted');
    expect(harness.emulator.scores(launch.lineItemId!)).toHaveLength(1);
  });

  it('passes errors of the app\'s own score function to the app\'s error handler', async () => {
    const launch = harness.emulator.launch();
    const custom = expressLib();
    custom.use(harness.grades.middleware());
    custom.post('/finish', harness.grades.submitGrade({ score: async () => Promise.reject(new Error('scoring broke')) }));
    custom.use(harness.grades.errorHandler());
    custom.use((err: Error, _req: unknown, res: { status(n: number): { send(s: string): void } }, _next: unknown) => {
      res.status(500).send(`app handler: ${err.message}`);
    });
    const res = await request(custom).post(`/finish?ltik=${launch.ltik}`);
    expect(res.status).toBe(500);
    expect(res.text).toBe('app handler: scoring broke');
  });

  it('works without the middleware mounted on the route', async () => {
    const launch = harness.emulator.launch({ lineItem: { label: 'L', scoreMaximum: 5 } });
    const bare = expressLib();
    bare.post('/finish', harness.grades.submitGrade({ score: () => ({ scoreGiven: 5, scoreMaximum: 5 }) }));
    bare.use(harness.grades.errorHandler());
    const res = await request(bare).post(`/finish?ltik=${launch.ltik}`);
    expect(res.status).toBe(200);
  });

  it('answers app.use(grades.middleware) written without parentheses with the fix', async () => {
    const wrong = expressLib();
    wrong.use(harness.grades.middleware as never);
    wrong.get('/', (_req, res) => {
      res.send('unreachable');
    });
    wrong.use(harness.grades.errorHandler());
    const res = await request(wrong).get('/');
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('OPTIONS_INVALID');
  });
});
