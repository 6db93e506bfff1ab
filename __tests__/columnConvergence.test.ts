// Columns converge without shared state: instances that share nothing end on one column, the first in the LMS's order, and no score is lost.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LtiaasApi } from '../src/client/ltiaasApi';
import { ltikCredential } from '../src/client/credentials';
import { LtiaasTransport } from '../src/client/transport';
import { GradeDelivery } from '../src/delivery/gradeDelivery';
import { GradeEvents } from '../src/events';
import { IdTokenReader } from '../src/grades/idTokenReader';
import { launchGrades, type LaunchGradesParts } from '../src/grades/launchGrades';
import { silentLogger } from '../src/logger';
import { InProcessIdTokenCache } from '../src/state/idTokenCache';
import { InProcessLineItemRegistry } from '../src/state/lineItemRegistry';
import { InProcessScoreClock } from '../src/state/scoreClock';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import request from 'supertest';
import { ltiaasGrades } from 'express-ltiaas-grades';
import { API_KEY, EXPRESS_VERSIONS, quizApp } from './helpers/harness';

const NO_RETRY = { retries: 0, minDelayMs: 0, maxDelayMs: 0 };

/** One tool instance's parts, built the way the factory builds them, sharing nothing with any other instance. */
interface ToolInstance {
  parts: LaunchGradesParts;
  close(): void;
}

function toolInstance(ltiaasUrl: string, convergeColumns: boolean): ToolInstance {
  const transport = new LtiaasTransport({ ltiaasUrl, apiKey: API_KEY, timeoutMs: 10_000, retry: NO_RETRY, maxSockets: 16, logger: silentLogger });
  const api = new LtiaasApi(transport);
  const idTokens = new IdTokenReader(api, new InProcessIdTokenCache({ max: 1000, ttlMs: 60_000 }));
  const lineItems = new InProcessLineItemRegistry({ max: 1000, ttlMs: 60_000 });
  const events = new GradeEvents(() => undefined);
  const clock = new InProcessScoreClock();
  const delivery = new GradeDelivery({ api, idTokens, lineItems, clock, events, logger: silentLogger, convergeColumns });
  const callDefaults = { retry: NO_RETRY, timeoutMs: 10_000 };
  return { parts: { api, idTokens, lineItems, delivery, callDefaults, convergeColumns }, close: () => transport.close() };
}

/** `count` first submissions in one fresh context, all at once, round-robin over the instances. */
async function firstSubmissions(emulator: LtiaasEmulator, instances: ToolInstance[], contextId: string, count: number) {
  const quiz = { resourceId: 'final-quiz', label: 'Final quiz', scoreMaximum: 10 };
  const students = Array.from({ length: count }, (_, i) => emulator.launch({ user: { id: `${contextId}-student-${i}` }, context: { id: contextId } }));
  return Promise.all(
    students.map((student, i) =>
      launchGrades(instances[i % instances.length]!.parts, student.ltik).submit({ scoreGiven: i % 11, scoreMaximum: 10 }, { lineItem: quiz }),
    ),
  );
}

describe('column convergence without shared state', () => {
  let emulator: LtiaasEmulator;
  let instances: ToolInstance[] = [];

  beforeEach(async () => {
    emulator = await startEmulator({ apiKey: API_KEY });
    // Every call takes a while, so both instances list (and find nothing) before either has created.
    emulator.setLatency(25);
  });
  afterEach(async () => {
    for (const instance of instances) instance.close();
    instances = [];
    await emulator.close();
  });

  it('two instances sharing nothing end on one column with every score: 30 concurrent first submissions, 5 fresh contexts', async () => {
    instances = [toolInstance(emulator.url, true), toolInstance(emulator.url, true)];
    for (let round = 0; round < 5; round++) {
      const contextId = `converge-${round}`;
      const outcomes = await firstSubmissions(emulator, instances, contextId, 30);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(outcomes.map(() => 'submitted'));
      const columns = emulator.lineItems({ contextId });
      expect(columns).toHaveLength(1);
      expect(new Set(emulator.scores(columns[0]!.id).map((score) => score.userId)).size).toBe(30);
      expect(new Set(outcomes.map((outcome) => outcome.lineItemId))).toEqual(new Set([columns[0]!.id]));
    }
    // The race was real: both instances created, and the surplus column was deleted.
    expect(emulator.countRequests({ method: 'POST', path: '/api/lineitems' })).toBe(10);
    expect(emulator.countRequests({ method: 'DELETE', path: /^\/api\/lineitems\/[^/]+$/ })).toBe(5);
  });

  it('without convergence the same race splits the class over two columns (why instances without shared state need it)', async () => {
    instances = [toolInstance(emulator.url, false), toolInstance(emulator.url, false)];
    await firstSubmissions(emulator, instances, 'split', 30);
    const columns = emulator.lineItems({ contextId: 'split' });
    expect(columns).toHaveLength(2);
    expect(columns.reduce((sum, column) => sum + emulator.scores(column.id).length, 0)).toBe(30);
  });

  it('with several matching columns already in the grade book, grades go to the first in the LMS\'s order and none is deleted', async () => {
    emulator.setLatency(0);
    const spec = { resourceId: 'final-quiz', label: 'Final quiz', scoreMaximum: 10 };
    const first = emulator.addLineItem('teacher-made', spec);
    const second = emulator.addLineItem('teacher-made', spec);
    instances = [toolInstance(emulator.url, true), toolInstance(emulator.url, true)];
    const outcomes = await firstSubmissions(emulator, instances, 'teacher-made', 4);
    expect(outcomes.map((outcome) => outcome.status === 'submitted' && outcome.lineItemId)).toEqual([first.id, first.id, first.id, first.id]);
    expect(emulator.lineItems({ contextId: 'teacher-made' }).map((column) => column.id)).toEqual([first.id, second.id]);
    expect(emulator.scores(second.id)).toHaveLength(0);
    expect(emulator.countRequests({ method: 'DELETE' })).toBe(0);
  });

  it('the emulator lists matching columns in creation order (the LMS order convergence relies on), also after one is deleted', async () => {
    emulator.setLatency(0);
    const spec = { resourceId: 'final-quiz', label: 'Final quiz', scoreMaximum: 10 };
    const launch = emulator.launch({ context: { id: 'ordered' } });
    const api = new LtiaasApi(new LtiaasTransport({ ltiaasUrl: emulator.url, apiKey: API_KEY, timeoutMs: 5000, retry: NO_RETRY, maxSockets: 2, logger: silentLogger }));
    const credential = ltikCredential(launch.ltik);
    const created = [];
    for (let i = 0; i < 4; i++) created.push((await api.createLineItem(credential, { ...spec, label: `Copy ${i}` })).id);
    await api.deleteLineItem(credential, created[1]!);
    const listed = await api.listLineItems(credential, { resourceId: 'final-quiz' });
    expect(listed.lineItems.map((item) => item.id)).toEqual([created[0], created[2], created[3]]);
  });

  describe('a surplus column that already holds a score', () => {
    let front: http.Server;
    afterEach(() => new Promise<void>((resolve) => front.close(() => resolve())));

    it('is kept with its score, and the creator grades on the first column', async () => {
      emulator.setLatency(0);
      const spec = { resourceId: 'final-quiz', label: 'Final quiz', scoreMaximum: 10 };
      const bystander = emulator.launch({ user: { id: 'bystander' }, context: { id: 'kept' } });
      const student = emulator.launch({ user: { id: 'student' }, context: { id: 'kept' } });
      const direct = new LtiaasApi(new LtiaasTransport({ ltiaasUrl: emulator.url, apiKey: API_KEY, timeoutMs: 5000, retry: NO_RETRY, maxSockets: 2, logger: silentLogger }));
      let earlier: string | undefined;
      let surplus: string | undefined;
      // Plays LTIAAS in front of the emulator. While the instance creates its column: another
      // creation lands first in the LMS's order, and a score reaches the instance's new column
      // before it lists again (what an LMS whose listing lags, or a hand-entered grade, could do).
      front = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', async () => {
          const creating = req.method === 'POST' && req.url === '/api/lineitems';
          if (creating) earlier = emulator.addLineItem('kept', spec).id;
          const upstream = await fetch(`${emulator.url}${req.url}`, {
            method: req.method,
            headers: { authorization: req.headers.authorization ?? '', 'content-type': 'application/json' },
            ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
          });
          const body = await upstream.text();
          if (creating) {
            surplus = (JSON.parse(body) as { id: string }).id;
            await direct.postScore(ltikCredential(bystander.ltik), surplus, { userId: 'bystander', scoreGiven: 7, scoreMaximum: 10, activityProgress: 'Completed', gradingProgress: 'FullyGraded', timestamp: new Date().toISOString() });
          }
          res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(body);
        });
      });
      await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
      instances = [toolInstance(`http://127.0.0.1:${(front.address() as AddressInfo).port}`, true)];

      const outcome = await launchGrades(instances[0]!.parts, student.ltik).submit({ scoreGiven: 9, scoreMaximum: 10 }, { lineItem: spec });

      expect(outcome).toMatchObject({ status: 'submitted', lineItemId: earlier });
      expect(emulator.lineItems({ contextId: 'kept' }).map((column) => column.id)).toEqual([earlier, surplus]);
      expect(emulator.scores(surplus!).map((score) => score.userId)).toEqual(['bystander']);
      expect(emulator.scores(earlier!).map((score) => score.userId)).toEqual(['student']);
      expect(emulator.countRequests({ method: 'DELETE' })).toBe(0);
    });
  });
});

describe.each(EXPRESS_VERSIONS)('convergeColumns: true, two tool apps sharing nothing (%s)', (_name, expressLib) => {
  it('30 concurrent first submissions through both apps end on one column with 30 scores; the option is off by default', async () => {
    const emulator = await startEmulator({ apiKey: API_KEY });
    emulator.setLatency(25);
    const options = { ltiaasUrl: emulator.url, apiKey: API_KEY, retry: { retries: 0 } };
    const converging = [ltiaasGrades({ ...options, convergeColumns: true }), ltiaasGrades({ ...options, convergeColumns: true })];
    const plain = [ltiaasGrades(options), ltiaasGrades(options)];
    try {
      const finish = async (apps: ReturnType<typeof quizApp>[], contextId: string) => {
        const students = Array.from({ length: 30 }, (_, i) => emulator.launch({ user: { id: `${contextId}-${i}` }, context: { id: contextId } }));
        const answers = await Promise.all(
          students.map((student, i) => request(apps[i % 2]!).post(`/quiz/7/finish?ltik=${student.ltik}`).send({ answers: ['b'] })),
        );
        expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
      };
      await finish(converging.map((grades) => quizApp(expressLib, grades)), 'factory-converge');
      const columns = emulator.lineItems({ contextId: 'factory-converge' });
      expect(columns).toHaveLength(1);
      expect(new Set(emulator.scores(columns[0]!.id).map((score) => score.userId)).size).toBe(30);

      // The same race without the option: two columns (the default suits one instance, or Redis coordination).
      await finish(plain.map((grades) => quizApp(expressLib, grades)), 'factory-default');
      expect(emulator.lineItems({ contextId: 'factory-default' })).toHaveLength(2);
    } finally {
      await Promise.all([...converging, ...plain].map((grades) => grades.close()));
      await emulator.close();
    }
  });
});
