// A strict TypeScript app, compiled with moduleResolution node16 and with bundler: the launch is typed without `!`, and an ltik kept in express-session is found.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import {
  ltiaasGrades,
  isLtiaasGradesError,
  requireLti,
  type IdToken,
  type LineItem,
  type LineItemSpec,
  type LtiaasGradesError,
  type LtiaasGradesOptions,
  type ScoreInput,
  type SubmitOutcome,
  type GradesStatus,
  type AdminRouterOptions,
} from 'express-ltiaas-grades';
import { startEmulator } from 'express-ltiaas-grades/testing';

// The line the README shows for keeping the ltik in the session: without it, `req.session.ltik` does not compile.
declare module 'express-session' {
  interface SessionData {
    ltik?: string;
  }
}

const emulator = await startEmulator();
const options: LtiaasGradesOptions = { ltiaasUrl: emulator.url, apiKey: emulator.apiKey, timeoutMs: 5000 };
const grades = ltiaasGrades(options);
const spec: LineItemSpec = { resourceId: 'ts-quiz', label: 'TS quiz', scoreMaximum: 10 };

const app = express();
app.use(express.json());
app.use(grades.middleware());
app.get('/whoami', async (req, res, next) => {
  try {
    // No `!`: requireLti types the launch as present (and answers LTIK_MISSING when it is not).
    const token: IdToken = await requireLti(req).grades.idToken();
    res.json({ user: token.user.id, available: token.services.assignmentAndGrades.available });
  } catch (error) {
    next(error);
  }
});
app.post(
  '/finish',
  grades.submitGrade({
    score: (): ScoreInput => ({ scoreGiven: 7, scoreMaximum: 10, activityProgress: 'Completed' }),
    lineItem: spec,
    respond: (_req, res, outcome: SubmitOutcome) => {
      res.json({ via: 'respond', status: outcome.status });
    },
  }),
);
// The operators' page and the health check, typed from the package's declarations alone (no @opentelemetry/api here).
const adminOptions: AdminRouterOptions = { authorize: (req) => req.socket.remoteAddress === '127.0.0.1' };
app.use('/admin/grades', grades.adminRouter(adminOptions));
app.get('/healthz', async (_req, res) => {
  const status: GradesStatus = await grades.status();
  res.status(status.state === 'unhealthy' ? 503 : 200).json({ state: status.state });
});
app.use(grades.errorHandler());
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { state: 'ok' });
assert.equal((await fetch(`${base}/admin/grades/`)).status, 200);

const launch = emulator.launch({ user: { id: 'ts-student' }, context: { id: 'ts' } });
assert.deepEqual(await (await fetch(`${base}/whoami?ltik=${launch.ltik}`)).json(), { user: 'ts-student', available: true });
assert.deepEqual(await (await fetch(`${base}/finish?ltik=${launch.ltik}`, { method: 'POST' })).json(), { via: 'respond', status: 'submitted' });
const column: LineItem = (await grades.forLaunch(launch.ltik).findOrCreateLineItem(spec));
assert.equal(emulator.scores(column.id, 'ts-student').length, 1);

const failure: unknown = await grades.forLaunch(launch.ltik).submit({ scoreGiven: -1, scoreMaximum: 10 }).catch((e: unknown) => e);
assert.ok(isLtiaasGradesError(failure));
const typed: LtiaasGradesError = failure;
assert.equal(typed.code, 'SCORE_INVALID');

// The ltik kept in the session by the launch route, found by extractLtik on the next request.
const sessionGrades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey, extractLtik: (req) => req.session?.ltik });
const sessionApp = express();
sessionApp.use(session({ secret: 'consumer-test-secret', resave: false, saveUninitialized: false }));
sessionApp.use(sessionGrades.middleware());
sessionApp.get('/launch', (req, res) => {
  req.session.ltik = requireLti(req).ltik;
  res.redirect('/me');
});
sessionApp.get('/me', async (req, res, next) => {
  try {
    res.json({ user: (await requireLti(req).grades.idToken()).user.id });
  } catch (error) {
    next(error);
  }
});
sessionApp.use(sessionGrades.errorHandler());
const sessionServer = sessionApp.listen(0, '127.0.0.1');
await new Promise((resolve) => sessionServer.once('listening', resolve));
const sessionBase = `http://127.0.0.1:${(sessionServer.address() as AddressInfo).port}`;
const launched = await fetch(`${sessionBase}/launch?ltik=${launch.ltik}`, { redirect: 'manual' });
const cookie = launched.headers.get('set-cookie')?.split(';')[0];
assert.ok(cookie, 'the launch route sets the session cookie');
assert.deepEqual(await (await fetch(`${sessionBase}/me`, { headers: { cookie } })).json(), { user: 'ts-student' });
assert.equal((await (await fetch(`${sessionBase}/me`)).json()).error.code, 'LTIK_MISSING');

server.close();
sessionServer.close();
await grades.close();
await sessionGrades.close();
await emulator.close();
console.log(`consumer ok: typescript ${/dist-(\w+)/.exec(import.meta.url)?.[1]}`);
