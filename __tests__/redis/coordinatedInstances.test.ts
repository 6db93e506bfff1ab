// Three tool processes sharing one Redis through ltiaasGrades({ coordination }): one column per course under a stampede, one ID-token read per launch, one student's stamps in order, and a lock holder's death taken over.
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { waitFor } from '../helpers/toolProcesses';
import { finishQuiz, openQuiz, roundRobin, startCoordinatedTools, stopTool, type CoordinatedTool } from './coordinatedTools';
import { startRedisServer, type RedisTestServer } from './redisServer';

const API_KEY = 'coordinated-instances-api-key';

let server: RedisTestServer;
let emulator: LtiaasEmulator;

beforeAll(async () => {
  server = await startRedisServer();
  emulator = await startEmulator({ apiKey: API_KEY });
}, 60_000);

afterAll(async () => {
  await emulator?.close();
  await server?.stop();
});

const toolEnv = (prefix: string, extra: Record<string, string> = {}) => ({
  LTIAAS_URL: emulator.url,
  LTIAAS_API_KEY: API_KEY,
  REDIS_URL: server.url,
  PREFIX: prefix,
  ...extra,
});

const creations = () => emulator.countRequests({ method: 'POST', path: '/api/lineitems' });

/** What the instances logged at warn or error: none of them may have lost Redis, or the test would prove nothing about it. */
const complaints = (tools: readonly CoordinatedTool[]) => tools.flatMap((tool) => tool.output.filter((line) => /^(warn|error) /.test(line)));

describe('three tool processes with redisCoordination', () => {
  let tools: CoordinatedTool[];

  beforeAll(async () => {
    tools = await startCoordinatedTools(3, toolEnv('stampede:'));
  }, 60_000);

  afterAll(async () => {
    await Promise.all((tools ?? []).map((tool) => stopTool(tool)));
  });

  it('makes exactly 10 columns and 300 scores when 300 students of 10 fresh courses submit at once through a round-robin of the three', async () => {
    const courses = Array.from({ length: 10 }, (_, i) => `stampede-course-${i}`);
    const students = courses.flatMap((course) => Array.from({ length: 30 }, (_, i) => ({ course, launch: emulator.launch({ user: { id: `${course}-student-${i}` }, context: { id: course } }) })));
    const next = roundRobin(tools);
    const before = creations();

    const answers = await Promise.all(students.map(({ launch }, i) => finishQuiz(next(), launch.ltik, i % 11)));

    expect(answers.filter((answer) => answer.status !== 200 || answer.body.status !== 'submitted')).toEqual([]);
    for (const course of courses) {
      const columns = emulator.lineItems({ contextId: course });
      expect({ course, columns: columns.length }).toEqual({ course, columns: 1 });
      const graded = new Set(emulator.scores(columns[0]!.id).map((score) => score.userId));
      expect({ course, graded: graded.size }).toEqual({ course, graded: 30 });
      // Every instance answered with that one column.
      const said = new Set(answers.filter((_, i) => students[i]!.course === course).map((answer) => answer.body.lineItemId));
      expect([...said]).toEqual([columns[0]!.id]);
    }
    expect(creations() - before).toBe(10);
    expect(complaints(tools)).toEqual([]);
  }, 120_000);

  it('costs at most 2.04 LTIAAS calls per grade, the same as one instance, when 50 students each open the quiz and submit twice, each request on another instance', async () => {
    /** 50 students of a fresh course; student i's j-th request goes to instances[(i + j) % n]. */
    const run = async (instances: readonly CoordinatedTool[], course: string) => {
      const students = Array.from({ length: 50 }, (_, i) => emulator.launch({ user: { id: `${course}-student-${i}` }, context: { id: course } }));
      emulator.clearRequests();
      await Promise.all(
        students.map(async (student, i) => {
          const on = (j: number) => instances[(i + j) % instances.length]!;
          expect(await openQuiz(on(0), student.ltik)).toEqual({ status: 200, body: { available: true } });
          expect((await finishQuiz(on(1), student.ltik, 7)).status).toBe(200);
          expect((await finishQuiz(on(2), student.ltik, 9)).status).toBe(200);
        }),
      );
      const grades = emulator.countRequests({ method: 'POST', path: /\/scores$/ });
      return { calls: emulator.countRequests(), grades, idTokenReads: emulator.countRequests({ method: 'GET', path: '/api/idtoken' }), columns: emulator.lineItems({ contextId: course }).length };
    };

    const one = await run([tools[0]!], 'budget-one-instance');
    const three = await run(tools, 'budget-three-instances');

    expect(three.grades).toBe(100);
    // One ID token read per launch (on whichever instance came first), one search, one create, one POST per grade.
    expect(three).toEqual({ calls: 152, grades: 100, idTokenReads: 50, columns: 1 });
    expect(three.calls).toBe(one.calls);
    expect(three.calls / three.grades).toBeLessThanOrEqual(2.04);
    expect(complaints(tools)).toEqual([]);
  }, 120_000);
});

describe('one student\'s timestamps through three processes whose clocks stand still', () => {
  let tools: CoordinatedTool[];
  const frozenAt = Date.UTC(2026, 5, 1, 12, 0, 0);

  beforeAll(async () => {
    tools = await startCoordinatedTools(3, toolEnv('clock:', { FROZEN_NOW: String(frozenAt) }));
  }, 60_000);

  afterAll(async () => {
    await Promise.all((tools ?? []).map((tool) => stopTool(tool)));
  });

  it('strictly increase in the order submitted (round-robin), each ahead of the clock by less than the student\'s own count; a classmate\'s stamps start at the clock again', async () => {
    const ada = emulator.launch({ user: { id: 'clock-ada' }, context: { id: 'clock-course' } });
    const next = roundRobin(tools);
    const stamps: number[] = [];
    for (let submission = 0; submission < 9; submission++) {
      const answer = await finishQuiz(next(), ada.ltik, submission);
      expect(answer.status).toBe(200);
      stamps.push(Date.parse(answer.body.timestamp!));
    }
    expect(stamps).toEqual(Array.from({ length: 9 }, (_, i) => frozenAt + i));
    // The LMS kept every one of them (an equal or older stamp would have been ignored).
    const [column] = emulator.lineItems({ contextId: 'clock-course' });
    expect(emulator.scores(column!.id, 'clock-ada').map((score) => score.scoreGiven)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);

    // Nine at once over the three instances: nine distinct stamps, none past the student's own count.
    const grace = emulator.launch({ user: { id: 'clock-grace' }, context: { id: 'clock-course' } });
    const together = await Promise.all(Array.from({ length: 9 }, (_, i) => finishQuiz(tools[i % 3]!, grace.ltik, i)));
    expect(together.map((answer) => answer.status)).toEqual(Array(9).fill(200));
    expect(together.map((answer) => Date.parse(answer.body.timestamp!)).sort((a, b) => a - b)).toEqual(Array.from({ length: 9 }, (_, i) => frozenAt + i));
    expect(complaints(tools)).toEqual([]);
  }, 60_000);
});

describe('a lock holder that dies mid-resolution', () => {
  let tools: CoordinatedTool[];

  beforeAll(async () => {
    // A short lock expiry, and LTIAAS calls that may hang for a minute (the holder must hang, not time out).
    tools = await startCoordinatedTools(2, toolEnv('takeover:', { LOCK_TTL_MS: '1000', TIMEOUT_MS: '60000' }));
  }, 60_000);

  afterAll(async () => {
    emulator.clearFaults();
    await Promise.all((tools ?? []).map((tool) => stopTool(tool)));
  });

  it('is taken over by another instance after the lock expires, which finds the column the dead one created and creates none', async () => {
    const [holder, survivor] = tools as [CoordinatedTool, CoordinatedTool];
    const course = 'takeover-course';
    const first = emulator.launch({ user: { id: 'takeover-1' }, context: { id: course } });
    const second = emulator.launch({ user: { id: 'takeover-2' }, context: { id: course } });
    const redis = server.client();
    const locks = () => redis.keys('takeover:lock:*');
    const searches = () => emulator.countRequests({ method: 'GET', path: '/api/lineitems' });
    const searchesBefore = searches();
    const creationsBefore = creations();
    // The holder searches (nothing), creates (LTIAAS acts, but the answer is lost), then looks
    // again for the column it may have made, and that look never answers: it hangs holding the lock.
    emulator.fail({ method: 'GET', path: '/api/lineitems', delayMs: 0 });
    emulator.fail({ method: 'POST', path: '/api/lineitems', dropAnswer: true });
    emulator.fail({ method: 'GET', path: '/api/lineitems', hang: true });

    const holding = finishQuiz(holder, first.ltik, 5).then(
      () => 'answered',
      () => 'connection lost',
    );
    await waitFor(() => searches() - searchesBefore === 2, 20_000);
    expect(creations() - creationsBefore).toBe(1);
    const [created] = emulator.lineItems({ contextId: course });
    expect(created).toBeDefined();
    expect(await locks()).toHaveLength(1);

    await stopTool(holder, 'SIGKILL');
    expect(await holding).toBe('connection lost');
    // Dead, it released nothing: the lock is still there, and only its expiry lets anyone in.
    const [lock] = await locks();
    expect(await redis.pttl(lock!)).toBeGreaterThan(0);

    const answer = await finishQuiz(survivor, second.ltik, 8);

    expect(answer).toEqual({ status: 200, body: expect.objectContaining({ status: 'submitted', lineItemId: created!.id }) });
    expect(creations() - creationsBefore).toBe(1);
    expect(emulator.lineItems({ contextId: course }).map((item) => item.id)).toEqual([created!.id]);
    expect(emulator.scores(created!.id).map((score) => [score.userId, score.scoreGiven])).toEqual([['takeover-2', 8]]);
    // It searched before creating: one search after the holder's two, and no create.
    expect(searches() - searchesBefore).toBe(3);
    // And it stored the column for every instance.
    expect(await redis.keys('takeover:column:*')).toHaveLength(1);
  }, 60_000);
});
