// One delivery path for every score: submitScore (launch and service key) emits the same events as submit and wakes the outbox.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { fileOutbox, isLtiaasGradesError, requireLti, type GradeEventMap, type GradeOutbox } from 'express-ltiaas-grades';
import type { EmulatedLaunch } from 'express-ltiaas-grades/testing';
import { EXPRESS_VERSIONS, startHarness, type Harness } from './helpers/harness';

type Recorded = { [E in keyof GradeEventMap]: GradeEventMap[E][] };

function recordEvents(harness: Harness): Recorded {
  const events: Recorded = { submitted: [], queued: [], retry: [], rejected: [] };
  for (const name of Object.keys(events) as Array<keyof GradeEventMap>) {
    harness.grades.on(name, (payload: GradeEventMap[keyof GradeEventMap]) => {
      (events[name] as unknown[]).push(payload);
    });
  }
  return events;
}

describe.each(EXPRESS_VERSIONS)('submitScore goes through the one delivery path (%s)', (_name, express) => {
  let harness: Harness;
  let dir: string;
  let outbox: GradeOutbox;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'delivery-'));
    // Ten minutes between probes: a held grade goes sooner only when something wakes the outbox.
    outbox = fileOutbox({ dir, retry: { minDelayMs: 600_000, maxDelayMs: 600_000 } });
    harness = await startHarness({ outbox });
  });
  afterEach(async () => {
    await harness.close();
    // Only ever the folder this test made with mkdtemp.
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** A tool route that posts to a column it names itself, with req.lti.grades.submitScore. */
  function regradeApp(lineItemId: string) {
    const app = express();
    app.use(express.json());
    app.use(harness.grades.middleware());
    app.post('/regrade', async (req, res, next) => {
      try {
        res.json(await requireLti(req).grades.submitScore(lineItemId, { scoreGiven: req.body.points, scoreMaximum: 10 }));
      } catch (error) {
        next(error);
      }
    });
    app.use(harness.grades.errorHandler());
    return app;
  }

  /** A grade held by the outbox: LTIAAS is unreachable while the student finishes. */
  async function holdOneGrade(launch: EmulatedLaunch): Promise<string> {
    await harness.emulator.unreachable();
    const outcome = await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 4, scoreMaximum: 10 });
    expect(outcome.status).toBe('queued');
    await harness.emulator.reachable();
    return (outcome as { id: string }).id;
  }

  it('req.lti.grades.submitScore emits submitted, and rejected when the LMS refuses the user', async () => {
    const events = recordEvents(harness);
    const student = harness.emulator.launch({ user: { id: 'regraded' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const teacher = harness.emulator.launch({ user: { id: 'teacher' }, role: 'instructor', lineItem: student.lineItemId! });
    const app = regradeApp(student.lineItemId!);

    const res = await request(app).post(`/regrade?ltik=${student.ltik}`).send({ points: 9 });
    expect(res.status).toBe(200);
    const refused = await request(app).post(`/regrade?ltik=${teacher.ltik}`).send({ points: 1 });
    expect(refused.status).toBe(422);

    expect(events.submitted).toEqual([
      expect.objectContaining({ status: 'submitted', lineItemId: student.lineItemId, userId: 'regraded', scoreGiven: 9, fromOutbox: false, durationMs: expect.any(Number) }),
    ]);
    expect(events.rejected).toEqual([
      expect.objectContaining({ status: 'rejected', lineItemId: student.lineItemId, userId: 'teacher', code: 'LTIAAS_REJECTED', upstreamStatus: 422, fromOutbox: false }),
    ]);
    expect(events.queued).toEqual([]);
  });

  it('req.lti.grades.submitScore that LTIAAS takes wakes the outbox, which delivers the grade it held at once', async () => {
    const held = harness.emulator.launch({ user: { id: 'held' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const other = harness.emulator.launch({ user: { id: 'regraded' }, lineItem: held.lineItemId! });
    await holdOneGrade(held);
    expect(await outbox.pending()).toHaveLength(1);

    const res = await request(regradeApp(held.lineItemId!)).post(`/regrade?ltik=${other.ltik}`).send({ points: 7 });
    expect(res.status).toBe(200);

    // Without the wake-up the held grade would wait for the next probe, ten minutes away.
    expect(await outbox.drain(20_000)).toBe(true);
    expect(harness.emulator.scores(held.lineItemId!, 'held').map((score) => score.scoreGiven)).toEqual([4]);
  });

  it('withServiceKey().submitScore emits submitted and rejected, and wakes the outbox', async () => {
    const events = recordEvents(harness);
    const held = harness.emulator.launch({ user: { id: 'held' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    harness.emulator.launch({ user: { id: 'regraded' }, lineItem: held.lineItemId! });
    await holdOneGrade(held);
    const activity = harness.grades.withServiceKey(held.serviceKey!);

    await expect(activity.submitScore(held.lineItemId!, { userId: 'regraded', scoreGiven: 8, scoreMaximum: 10 })).resolves.toMatchObject({ status: 'submitted' });
    const refused = await activity.submitScore(held.lineItemId!, { userId: 'not-enrolled', scoreGiven: 1, scoreMaximum: 10 }).catch((error: unknown) => error);
    expect(isLtiaasGradesError(refused) && refused.code).toBe('LTIAAS_REJECTED');

    expect(events.submitted).toEqual(
      expect.arrayContaining([expect.objectContaining({ status: 'submitted', lineItemId: held.lineItemId, userId: 'regraded', scoreGiven: 8, fromOutbox: false })]),
    );
    expect(events.rejected).toEqual([
      expect.objectContaining({ status: 'rejected', lineItemId: held.lineItemId, userId: 'not-enrolled', code: 'LTIAAS_REJECTED', upstreamStatus: 422, fromOutbox: false }),
    ]);
    expect(await outbox.drain(20_000)).toBe(true);
    expect(harness.emulator.scores(held.lineItemId!, 'held').map((score) => score.scoreGiven)).toEqual([4]);
  });

  it('submitScore is never queued: with LTIAAS down it throws LTIAAS_UNAVAILABLE and the outbox holds nothing', async () => {
    const events = recordEvents(harness);
    const student = harness.emulator.launch({ user: { id: 'regraded' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const app = regradeApp(student.lineItemId!);
    // The ID token is read while LTIAAS is up: the score itself is what cannot be posted.
    await harness.grades.forLaunch(student.ltik).idToken();
    await harness.emulator.unreachable();

    const res = await request(app).post(`/regrade?ltik=${student.ltik}`).send({ points: 5 });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('LTIAAS_UNAVAILABLE');
    const direct = await harness.grades.withServiceKey(student.serviceKey!).submitScore(student.lineItemId!, { userId: 'regraded', scoreGiven: 5, scoreMaximum: 10 }).catch((error: unknown) => error);
    expect(isLtiaasGradesError(direct) && direct.code).toBe('LTIAAS_UNAVAILABLE');

    expect(await outbox.pending()).toEqual([]);
    expect(events.queued).toEqual([]);
    await harness.emulator.reachable();
  });
});
