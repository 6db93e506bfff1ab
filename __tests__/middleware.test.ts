// The middleware: where it finds the ltik, what it attaches, and that it never calls LTIAAS by itself.
import request from 'supertest';
import { ltiaasGrades } from 'express-ltiaas-grades';
import { API_KEY, EXPRESS_VERSIONS, startHarness, type Harness, expectNoLtiaasCalls } from './helpers/harness';

describe.each(EXPRESS_VERSIONS)('middleware on %s', (_name, expressLib) => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await startHarness();
  });
  afterEach(() => harness.close());

  function echoApp(grades = harness.grades) {
    const app = expressLib();
    app.use(expressLib.json());
    app.use(expressLib.urlencoded({ extended: false }));
    app.use(grades.middleware());
    app.all('/echo', (req, res) => {
      res.json({ ltik: req.lti?.ltik ?? null, hasGrades: typeof req.lti?.grades?.submit === 'function' });
    });
    return app;
  }

  it.each([
    ['?ltik=', (r: request.Test) => r.query({ ltik: 'L-query' }), 'L-query'],
    ['a JSON body field', (r: request.Test) => r.send({ ltik: 'L-json' }), 'L-json'],
    ['a form body field', (r: request.Test) => r.type('form').send('ltik=L-form'), 'L-form'],
    ['Authorization: Bearer', (r: request.Test) => r.set('Authorization', 'Bearer L-bearer'), 'L-bearer'],
  ])('finds the ltik in %s', async (_where, add, expected) => {
    const res = await add(request(echoApp()).post('/echo'));
    expect(res.body).toEqual({ ltik: expected, hasGrades: true });
  });

  it.each([
    ['/echo?xltik=A&ltik=B', 'B'],
    ['/echo?a=1&ltik=B&c=2', 'B'],
    ['/echo?ltik=a%2Eb%2Ec', 'a.b.c'],
    ['/echo?ltik=first&ltik=second', 'first'],
    ['/echo?ltik=', null],
    ['/echo?ltik=%E0%A4%A', null],
    ['/echo?notltik=A', null],
  ])('reads the query parameter exactly: %s', async (url, expected) => {
    const res = await request(echoApp()).get(url);
    expect(res.body.ltik).toBe(expected);
  });

  it('prefers the query, then the body, then the header', async () => {
    const res = await request(echoApp()).post('/echo?ltik=Q').set('Authorization', 'Bearer H').send({ ltik: 'B' });
    expect(res.body.ltik).toBe('Q');
  });

  it('attaches grades without an ltik (methods then fail with LTIK_MISSING)', async () => {
    const res = await request(echoApp()).get('/echo');
    expect(res.body).toEqual({ ltik: null, hasGrades: true });
  });

  it('ignores values that are not ltiks', async () => {
    const res = await request(echoApp()).post('/echo').set('Authorization', 'Basic dXNlcjpwYXNz').send({ ltik: 'has spaces in it' });
    expect(res.body.ltik).toBeNull();
  });

  it('uses only the configured sources, then the app\'s own extractor', async () => {
    const grades = ltiaasGrades({
      ltiaasUrl: harness.emulator.url,
      apiKey: API_KEY,
      ltikSources: ['query'],
      extractLtik: (req) => req.headers['x-session-ltik'] as string | undefined,
    });
    const app = echoApp(grades);
    expect((await request(app).post('/echo').set('Authorization', 'Bearer H')).body.ltik).toBeNull();
    expect((await request(app).post('/echo').set('x-session-ltik', 'S')).body.ltik).toBe('S');
    expect((await request(app).post('/echo?ltik=Q').set('x-session-ltik', 'S')).body.ltik).toBe('Q');
    await grades.close();
  });

  it('makes no LTIAAS call on routes that do not grade', async () => {
    const launch = harness.emulator.launch();
    const app = echoApp();
    for (let i = 0; i < 5; i++) await request(app).get(`/echo?ltik=${launch.ltik}`).expect(200);
    await expectNoLtiaasCalls(harness.emulator);
  });
});
