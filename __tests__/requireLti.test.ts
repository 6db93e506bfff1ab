// requireLti(req): the launch of a request, typed as present, or the error that says why there is none.
import request from 'supertest';
import { requireLti } from 'express-ltiaas-grades';
import { EXPRESS_VERSIONS, startHarness, type Harness } from './helpers/harness';

describe.each(EXPRESS_VERSIONS)('requireLti on %s', (_name, expressLib) => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await startHarness();
  });
  afterEach(() => harness.close());

  /** A route as the README writes it: no `!`, errors handed to next() (Express 4 needs that). */
  function whoamiApp(mountMiddleware: boolean) {
    const app = expressLib();
    if (mountMiddleware) app.use(harness.grades.middleware());
    app.get('/whoami/:course', async (req, res, next) => {
      try {
        const { ltik, grades } = requireLti(req);
        const token = await grades.idToken();
        res.json({ user: token.user.id, course: req.params.course, ltikLength: ltik.length });
      } catch (error) {
        next(error);
      }
    });
    app.use(harness.grades.errorHandler());
    return app;
  }

  it('gives the launch of a request that carried an ltik, with the ltik as a string', async () => {
    const launch = harness.emulator.launch({ user: { id: 'ada' } });
    const res = await request(whoamiApp(true)).get(`/whoami/c1?ltik=${launch.ltik}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user: 'ada', course: 'c1', ltikLength: launch.ltik.length });
  });

  it('answers 401 LTIK_MISSING for a request without an ltik, calling nothing upstream', async () => {
    const res = await request(whoamiApp(true)).get('/whoami/c1');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('LTIK_MISSING');
    expect(harness.emulator.requests).toHaveLength(0);
  });

  it('names the missing middleware (500 OPTIONS_INVALID) when grades.middleware() did not run', async () => {
    const res = await request(whoamiApp(false)).get('/whoami/c1?ltik=anything');
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('OPTIONS_INVALID');
  });
});

describe('requireLti outside Express', () => {
  it('throws LTIK_MISSING for a launch without an ltik and names the middleware when req.lti is absent', async () => {
    const harness = await startHarness();
    try {
      const withoutLtik = { lti: { grades: harness.grades.forLaunch('') } };
      expect(() => requireLti(withoutLtik)).toThrow(expect.objectContaining({ code: 'LTIK_MISSING', status: 401 }));
      expect(() => requireLti({})).toThrow(expect.objectContaining({ code: 'OPTIONS_INVALID', message: expect.stringMatching(/grades\.middleware\(\) did not run/) }));
    } finally {
      await harness.close();
    }
  });
});
