// A strict TypeScript app, compiled with moduleResolution node16 and with bundler: req.lti is typed without the app writing any type.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import express from 'express';
import {
  ltiaasGrades,
  isLtiaasGradesError,
  type IdToken,
  type LineItem,
  type LineItemSpec,
  type LtiaasGradesError,
  type LtiaasGradesOptions,
  type ScoreInput,
  type SubmitOutcome,
} from 'express-ltiaas-grades';
import { startEmulator } from 'express-ltiaas-grades/testing';

const emulator = await startEmulator();
const options: LtiaasGradesOptions = { ltiaasUrl: emulator.url, apiKey: emulator.apiKey, timeoutMs: 5000 };
const grades = ltiaasGrades(options);
const spec: LineItemSpec = { resourceId: 'ts-quiz', label: 'TS quiz', scoreMaximum: 10 };

const app = express();
app.use(express.json());
app.use(grades.middleware());
app.get('/whoami', async (req, res, next) => {
  try {
    // Declaration merging: req.lti is known to TypeScript from the import alone.
    const token: IdToken = await req.lti!.grades.idToken();
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
app.use(grades.errorHandler());
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const launch = emulator.launch({ user: { id: 'ts-student' }, context: { id: 'ts' } });
assert.deepEqual(await (await fetch(`${base}/whoami?ltik=${launch.ltik}`)).json(), { user: 'ts-student', available: true });
assert.deepEqual(await (await fetch(`${base}/finish?ltik=${launch.ltik}`, { method: 'POST' })).json(), { via: 'respond', status: 'submitted' });
const column: LineItem = (await grades.forLaunch(launch.ltik).findOrCreateLineItem(spec));
assert.equal(emulator.scores(column.id, 'ts-student').length, 1);

const failure: unknown = await grades.forLaunch(launch.ltik).submit({ scoreGiven: -1, scoreMaximum: 10 }).catch((e: unknown) => e);
assert.ok(isLtiaasGradesError(failure));
const typed: LtiaasGradesError = failure;
assert.equal(typed.code, 'SCORE_INVALID');

server.close();
await grades.close();
await emulator.close();
console.log('consumer ok: typescript');
